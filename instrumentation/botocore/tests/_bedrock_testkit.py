"""Shared by the Bedrock instrumentation tests: the client, per-request test headers, canonical requests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from synapsekit.testing import LLMTestServer, completion_text

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CLAUDE_US = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
PROFILE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{CLAUDE_US}"
NOVA = "amazon.nova-lite-v1:0"
LLAMA = "meta.llama3-8b-instruct-v1:0"

PROMPT = "one two three four five six seven"  # 7 input tokens on the test server
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": [{"text": PROMPT}]}]
CACHE_HEADERS = {"x-test-cached-tokens": "3", "x-test-cache-creation-tokens": "2"}
FULL_TEXT = completion_text(12)
# botocore releases before Bedrock's prompt caching (1.34.116 is one) can neither send a cachePoint block nor
# parse the cache fields of Converse's usage: for them Converse's cache counts are always zero, and the test
# server's injected ones would vanish in parsing. The InvokeModel bodies are JSON synapsekit reads itself.
CONVERSE_REPORTS_CACHE = "cacheReadInputTokens" in (
    botocore.session.get_session().get_service_model("bedrock-runtime").shape_for("TokenUsage").members
)


def cache_headers(mode: str) -> dict[str, str]:
    """The cache headers a request the ``mode`` way can see reported (none for Converse on old botocore)."""
    return CACHE_HEADERS if CONVERSE_REPORTS_CACHE or not mode.startswith("converse") else {}


M = Decimal(1_000_000)


def make_client(server: LLMTestServer, *, attempts: int = 1) -> Any:
    # One attempt unless a test says otherwise: botocore retries throttling and 5xx errors by default.
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=server.bedrock_base_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": attempts}),
    )


@contextlib.contextmanager
def sending(client: Any, **headers: str) -> Iterator[None]:
    """boto3 has no per-call headers: add them to every request sent while the block runs."""

    def add_headers(request: Any, **_: Any) -> None:
        request.headers.update(headers)

    client.meta.events.register("before-send.bedrock-runtime.*", add_headers)
    try:
        yield
    finally:
        client.meta.events.unregister("before-send.bedrock-runtime.*", add_headers)


def anthropic_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    body.update(overrides)
    return body


def nova_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemaVersion": "messages-v1", "messages": MESSAGES, "inferenceConfig": {}}
    body.update(overrides)
    return body


def llama_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": PROMPT}
    body.update(overrides)
    return body


def invoke(client: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    document: dict[str, Any] = json.loads(response["body"].read())
    return document


def invoke_stream(client: Any, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def converse_stream(client: Any, model: str = CLAUDE, **kwargs: Any) -> list[dict[str, Any]]:
    response = client.converse_stream(modelId=model, messages=MESSAGES, **kwargs)
    return list(response["stream"])


def per_million(tokens: int, price_mtok: str) -> Decimal:
    return tokens * Decimal(price_mtok) / M

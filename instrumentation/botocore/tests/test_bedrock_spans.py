"""One CLIENT span per Bedrock request, with the GenAI conventions' attributes and the server's usage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _bedrock_testkit import (
    CACHE_HEADERS,
    CLAUDE,
    LLAMA,
    MESSAGES,
    anthropic_body,
    cache_headers,
    llama_body,
    sending,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import synapsekit
from synapsekit.plugin import BudgetExceeded
from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

# Claude 3.5 Sonnet on Bedrock: 2 fresh input at $3/M, 3 cache reads at $0.30/M, 2 cache writes at $3.75/M,
# 12 output at $15/M.
CLAUDE_COST = (2 * 3 + 3 * 0.3 + 2 * 3.75 + 12 * 15) / 1e6


def only_span(span_exporter: Any) -> ReadableSpan:
    finished: tuple[ReadableSpan, ...] = span_exporter.get_finished_spans()
    assert len(finished) == 1, [span.name for span in finished]
    return finished[0]


def send(client: Any, mode: str) -> None:
    with sending(client, **CACHE_HEADERS):  # Converse on old botocore: see test_one_client_span_per_request
        if mode == "converse":
            client.converse(modelId=CLAUDE, messages=MESSAGES, inferenceConfig={"maxTokens": 50})
        elif mode == "converse_stream":
            stream = client.converse_stream(
                modelId=CLAUDE, messages=MESSAGES, inferenceConfig={"maxTokens": 50}
            )
            list(stream["stream"])
        elif mode == "invoke":
            client.invoke_model(modelId=CLAUDE, body=json.dumps(anthropic_body(max_tokens=50)))
        else:
            response = client.invoke_model_with_response_stream(
                modelId=CLAUDE, body=json.dumps(anthropic_body(max_tokens=50))
            )
            list(response["body"])


@pytest.mark.parametrize("mode", ["converse", "converse_stream", "invoke", "invoke_stream"])
def test_one_client_span_per_request(
    mode: str, client: Any, span_exporter: Any, server: LLMTestServer
) -> None:
    if not cache_headers(mode):
        pytest.skip("this botocore drops Converse's cache counts (it predates Bedrock's prompt caching)")
    send(client, mode)
    span = only_span(span_exporter)
    assert (span.name, span.kind, span.instrumentation_scope.name) == (
        f"chat {CLAUDE}",
        SpanKind.CLIENT,
        "synapsekit",
    )
    attributes = dict(span.attributes or {})
    expected = {
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": CLAUDE,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 3,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        "gen_ai.usage.cost": pytest.approx(CLAUDE_COST),
        "gen_ai.response.finish_reasons": ("end_turn",),
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }
    assert {key: attributes.get(key) for key in expected} == expected
    assert attributes.get("gen_ai.request.stream") is (True if mode.endswith("stream") else None)
    assert "synapsekit.usage.estimated" not in attributes
    # Bedrock answers name no model of their own (an Anthropic body's "model" is not a Bedrock id).
    assert "gen_ai.response.model" not in attributes
    assert span.status.status_code is not StatusCode.ERROR


def test_llama_is_a_text_completion_span(client: Any, span_exporter: Any) -> None:
    client.invoke_model(modelId=LLAMA, body=json.dumps(llama_body()))
    span = only_span(span_exporter)
    assert span.name == f"text_completion {LLAMA}"
    assert dict(span.attributes or {})["gen_ai.operation.name"] == "text_completion"


def test_provider_error_span(client: Any, span_exporter: Any) -> None:
    with sending(client, **{"x-test-status": "429"}), pytest.raises(client.exceptions.ThrottlingException):
        client.converse(modelId=CLAUDE, messages=MESSAGES)
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "ThrottlingException"


def test_budget_rejection_has_one_span_and_no_request(
    client: Any, span_exporter: Any, server: LLMTestServer
) -> None:
    with synapsekit.budget(max_tokens=5), pytest.raises(BudgetExceeded):
        client.converse(modelId=CLAUDE, messages=MESSAGES)
    assert server.request_count == 0
    span = only_span(span_exporter)
    assert dict(span.attributes or {})["error.type"] == "BudgetExceeded"


def test_other_services_make_no_span(client: Any, span_exporter: Any) -> None:
    import boto3

    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    from botocore.stub import Stubber

    with Stubber(sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/test", "UserId": "AIDATEST"},
        )
        assert sts.get_caller_identity()["Account"] == "123456789012"
    assert span_exporter.get_finished_spans() == ()

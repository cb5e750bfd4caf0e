"""Exact usage, cache reads and writes and cost for every operation and model family, against the real boto3."""

from __future__ import annotations

import json
import re
import warnings
from decimal import Decimal
from typing import Any

import pytest
from _bedrock_testkit import (
    CACHE_HEADERS,
    CLAUDE,
    CLAUDE_US,
    CONVERSE_REPORTS_CACHE,
    FULL_TEXT,
    LLAMA,
    MESSAGES,
    NOVA,
    PROFILE_ARN,
    PROMPT,
    anthropic_body,
    cache_headers,
    llama_body,
    nova_body,
    per_million,
    sending,
)
from botocore.eventstream import EventStream
from botocore.response import StreamingBody

import synapsekit
from synapsekit import UnknownModelPriceWarning
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

BODIES = {"anthropic": anthropic_body, "nova": nova_body, "llama": llama_body}


def claude_sonnet_cost(fresh: int, read: int, written: int, output: int) -> Decimal:
    # anthropic.claude-3-5-sonnet-20240620 on Bedrock: $3/M input, $0.30/M cache read, $3.75/M cache write,
    # $15/M output.
    return (
        per_million(fresh, "3")
        + per_million(read, "0.3")
        + per_million(written, "3.75")
        + per_million(output, "15")
    )


# (mode, model, body family) → (operation, input, cache read, cache write, output, cost, finish reason)
CONVERSE_EXPECTED = (
    ("chat", 7, 3, 2, 12, claude_sonnet_cost(2, 3, 2, 12), "end_turn")
    if CONVERSE_REPORTS_CACHE
    else ("chat", 7, 0, 0, 12, claude_sonnet_cost(7, 0, 0, 12), "end_turn")
)
CASES: list[tuple[str, str, str | None, tuple[Any, ...]]] = [
    ("converse", CLAUDE, None, CONVERSE_EXPECTED),
    ("converse_stream", CLAUDE, None, CONVERSE_EXPECTED),
    ("invoke", CLAUDE, "anthropic", ("chat", 7, 3, 2, 12, claude_sonnet_cost(2, 3, 2, 12), "end_turn")),
    (
        "invoke_stream",
        CLAUDE,
        "anthropic",
        ("chat", 7, 3, 2, 12, claude_sonnet_cost(2, 3, 2, 12), "end_turn"),
    ),
    # amazon.nova-lite: $0.06/M input (cache writes too), $0.015/M cache read, $0.24/M output.
    *[
        (
            mode,
            NOVA,
            "nova",
            (
                "chat",
                7,
                3,
                2,
                12,
                per_million(4, "0.06") + per_million(3, "0.015") + per_million(12, "0.24"),
                "end_turn",
            ),
        )
        for mode in ("invoke", "invoke_stream")
    ],
    # meta.llama3-8b-instruct: $0.30/M input, $0.60/M output; Llama has no prompt cache.
    *[
        (
            mode,
            LLAMA,
            "llama",
            ("text_completion", 7, 0, 0, 12, per_million(7, "0.3") + per_million(12, "0.6"), "stop"),
        )
        for mode in ("invoke", "invoke_stream")
    ],
]


def send(client: Any, mode: str, model: str, family: str | None, **body_overrides: Any) -> Any:
    """One request the ``mode`` way, read to the end; returns what the caller saw (metadata aside)."""
    if mode == "converse":
        response = client.converse(modelId=model, messages=MESSAGES)
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if mode == "converse_stream":
        response = client.converse_stream(modelId=model, messages=MESSAGES)
        assert isinstance(response["stream"], EventStream)
        return list(response["stream"])
    assert family is not None
    body = json.dumps(BODIES[family](**body_overrides))
    if mode == "invoke":
        response = client.invoke_model(modelId=model, body=body)
        assert isinstance(response["body"], StreamingBody)
        return (response["contentType"], response["body"].read())
    response = client.invoke_model_with_response_stream(modelId=model, body=body)
    assert isinstance(response["body"], EventStream)
    return list(response["body"])


@pytest.mark.parametrize(("mode", "model", "family", "expected"), CASES)
def test_exact_usage_and_cost(
    mode: str,
    model: str,
    family: str | None,
    expected: tuple[Any, ...],
    client: Any,
    server: LLMTestServer,
    sink: CallRecorder,
) -> None:
    operation, input_tokens, read, written, output, cost, finish_reason = expected
    with synapsekit.track() as tally, sending(client, **cache_headers(mode)):
        send(client, mode, model, family)
    call = sink.only
    assert (call.provider, call.operation, call.request_model, call.model) == (
        "aws.bedrock",
        operation,
        model,
        model,
    )
    # OTel convention: input = Bedrock's input count + cache reads + cache writes.
    assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (
        input_tokens,
        read,
        written,
    )
    assert (call.output_tokens, call.usage_estimated, call.error_type) == (output, False, None)
    assert call.cost == cost
    assert call.finish_reasons == (finish_reason,)
    assert call.streamed is mode.endswith("stream")
    assert call.chunks == (12 if call.streamed else 0)
    assert (call.server_address, call.server_port) == ("127.0.0.1", server.port)
    assert (tally.calls, tally.input_tokens, tally.output_tokens, tally.cost_usd_decimal) == (
        1,
        input_tokens,
        output,
        cost,
    )
    assert server.request_count == 1


def test_cost_to_the_cent() -> None:
    # 1M fresh + 1M read + 1M written input and 1M output tokens of Claude 3.5 Sonnet on Bedrock.
    assert claude_sonnet_cost(1_000_000, 1_000_000, 1_000_000, 1_000_000) == Decimal("22.05")


@pytest.mark.parametrize(("mode", "model", "family", "expected"), CASES)
def test_caller_sees_what_an_uninstrumented_client_sees(
    mode: str, model: str, family: str | None, expected: tuple[Any, ...], client: Any
) -> None:
    instrumented = send(client, mode, model, family)
    synapsekit.uninstrument("botocore")
    try:
        bare = send(client, mode, model, family)
    finally:
        synapsekit.instrument("botocore")
    # The same objects, bytes and events -- but for the message id, which the server numbers per request.
    assert _without_ids(instrumented) == _without_ids(bare)
    assert instrumented == bare or family == "anthropic"


def _without_ids(seen: Any) -> str:
    return re.sub(r"msg_bdrk_\d+", "msg_bdrk_N", repr(seen))


def test_anthropic_answer_id_is_the_response_id(client: Any, sink: CallRecorder) -> None:
    response = client.invoke_model(modelId=CLAUDE, body=json.dumps(anthropic_body()))
    document = json.loads(response["body"].read())
    assert sink.only.response_id == document["id"]
    assert document["content"][0]["text"] == FULL_TEXT
    for event in client.invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(anthropic_body()))[
        "body"
    ]:
        del event
    assert sink.ended[1].response_id is not None
    assert sink.ended[1].response_id.startswith("msg_bdrk_")


@pytest.mark.parametrize("model", [CLAUDE_US, PROFILE_ARN, "eu.anthropic.claude-3-5-haiku-20241022-v1:0"])
@pytest.mark.parametrize("mode", ["converse", "invoke"])
def test_cross_region_profiles_are_priced(mode: str, model: str, client: Any, sink: CallRecorder) -> None:
    with sending(client, **cache_headers(mode)):
        send(client, mode, model, "anthropic")
    call = sink.only
    assert call.request_model == model
    # Claude 3.5 Haiku on Bedrock: $0.80/M input, $0.08/M cache read, $1/M cache write, $4/M output.
    if cache_headers(mode):
        assert call.cost == (
            per_million(2, "0.8") + per_million(3, "0.08") + per_million(2, "1") + per_million(12, "4")
        )
    else:
        assert call.cost == per_million(7, "0.8") + per_million(12, "4")


@pytest.mark.parametrize(
    ("mode", "family", "overrides", "parameter"),
    [
        ("converse", None, None, 3),
        ("converse_stream", None, None, 3),
        ("invoke", "anthropic", {"max_tokens": 3}, 3),
        ("invoke_stream", "nova", {"inferenceConfig": {"maxTokens": 3}}, 3),
        ("invoke", "llama", {"max_gen_len": 3}, 3),
        ("invoke_stream", "llama", {"max_gen_len": 3}, 3),
    ],
)
def test_max_output_parameter_is_read(
    mode: str,
    family: str | None,
    overrides: dict[str, Any] | None,
    parameter: int,
    client: Any,
    sink: CallRecorder,
) -> None:
    model = {None: CLAUDE, "anthropic": CLAUDE, "nova": NOVA, "llama": LLAMA}[family]
    if mode == "converse":
        client.converse(modelId=model, messages=MESSAGES, inferenceConfig={"maxTokens": 3})
    elif mode == "converse_stream":
        list(
            client.converse_stream(modelId=model, messages=MESSAGES, inferenceConfig={"maxTokens": 3})[
                "stream"
            ]
        )
    else:
        send(client, mode, model, family, **(overrides or {}))
    call = sink.only
    assert (call.max_output_tokens, call.output_tokens) == (parameter, 3)
    assert call.finish_reasons in {("max_tokens",), ("length",)}


def test_system_prompt_counts_toward_the_estimate(client: Any, sink: CallRecorder) -> None:
    client.converse(modelId=CLAUDE, system=[{"text": "Answer in French"}], messages=MESSAGES)
    call = sink.only
    assert call.input_tokens == 10
    assert call.prompt_text == f"Answer in French\n{PROMPT}"


def test_provisioned_model_arn_is_read_by_its_body(client: Any, sink: CallRecorder) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
    with sending(client, **CACHE_HEADERS), warnings.catch_warnings():
        # No price is known for a provisioned model: warned once per process, when first priced.
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        send(client, "invoke", arn, "anthropic")
        send(client, "invoke_stream", arn, "llama")
    anthropic_call, llama_call = sink.ended
    assert (
        anthropic_call.input_tokens,
        anthropic_call.cached_input_tokens,
        anthropic_call.output_tokens,
    ) == (7, 3, 12)
    assert anthropic_call.finish_reasons == ("end_turn",)
    assert (llama_call.operation, llama_call.input_tokens, llama_call.output_tokens) == (
        "text_completion",
        7,
        12,
    )
    # No price is known for a provisioned model: unknown, never $0.
    with warnings.catch_warnings():
        # Warned once per process and model, by whichever test prices it first.
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        assert anthropic_call.cost is None

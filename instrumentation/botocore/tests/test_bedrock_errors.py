"""Provider errors pass through unchanged; retries are one call; budgets refuse before sending and cut streams."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest
import urllib3.exceptions
from _bedrock_testkit import (
    CACHE_HEADERS,
    CLAUDE,
    LLAMA,
    MESSAGES,
    NOVA,
    anthropic_body,
    llama_body,
    make_client,
    nova_body,
    sending,
)

import synapsekit
from synapsekit.plugin import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

MODES = ["converse", "converse_stream", "invoke", "invoke_stream"]


def request(client: Any, mode: str, **inference: Any) -> Any:
    """Send one request the ``mode`` way (Claude); streams are returned unread."""
    if mode == "converse":
        return client.converse(modelId=CLAUDE, messages=MESSAGES, **inference)
    if mode == "converse_stream":
        return client.converse_stream(modelId=CLAUDE, messages=MESSAGES, **inference)
    body = json.dumps(anthropic_body())
    if mode == "invoke":
        return client.invoke_model(modelId=CLAUDE, body=body)
    return client.invoke_model_with_response_stream(modelId=CLAUDE, body=body)


def assert_failed_unbilled(sink: CallRecorder, error_type: str) -> None:
    call = sink.only
    assert (call.error_type, call.input_tokens, call.output_tokens, call.cost) == (error_type, 0, 0, 0)
    assert call.usage_estimated is False


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "ThrottlingException"), (400, "ValidationException"), (500, "InternalServerException")],
)
def test_modelled_errors_pass_through_unchanged(
    mode: str, status: int, code: str, client: Any, sink: CallRecorder
) -> None:
    error_class = getattr(client.exceptions, code)
    with sending(client, **{"x-test-status": str(status)}), pytest.raises(error_class) as caught:
        request(client, mode)
    assert type(caught.value) is error_class
    assert caught.value.response["Error"]["Code"] == code
    assert sink.only.error is caught.value
    assert_failed_unbilled(sink, code)


def test_botocore_retries_are_one_call(server: LLMTestServer, sink: CallRecorder) -> None:
    client = make_client(server, attempts=3)
    server.fail_next(500, count=2)
    with synapsekit.track() as tally:
        response = client.converse(modelId=CLAUDE, messages=MESSAGES)
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert server.request_count == 3
    assert (tally.calls, tally.failed_calls, tally.input_tokens, tally.output_tokens) == (1, 0, 7, 12)
    assert sink.only.error_type is None


def test_retries_exhausted_are_one_failed_call(server: LLMTestServer, sink: CallRecorder) -> None:
    client = make_client(server, attempts=2)
    server.fail_next(429, count=2)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.invoke_model(modelId=CLAUDE, body=json.dumps(anthropic_body()))
    assert server.request_count == 2
    assert_failed_unbilled(sink, "ThrottlingException")


@pytest.mark.parametrize("mode", MODES)
def test_budget_refuses_before_anything_is_sent(
    mode: str, client: Any, server: LLMTestServer, sink: CallRecorder
) -> None:
    # 7 input + 100 output tokens reserved; Claude 3.5 Sonnet's worst case is far above $0.0001.
    with synapsekit.budget(max_cost_usd=0.0001), pytest.raises(BudgetExceeded):
        request(client, mode, **({"inferenceConfig": {"maxTokens": 100}} if "converse" in mode else {}))
    assert server.request_count == 0
    call = sink.only
    assert call.rejected
    assert call.max_output_tokens == 100


@pytest.mark.parametrize(
    ("model", "body", "allowed"),
    [
        # Each family's own output cap is reserved beside the prompt (33 characters: 9 tokens estimated).
        (CLAUDE, anthropic_body(max_tokens=14), False),
        (CLAUDE, anthropic_body(max_tokens=13), True),
        (NOVA, nova_body(inferenceConfig={"maxTokens": 14}), False),
        (NOVA, nova_body(inferenceConfig={"maxTokens": 13}), True),
        (LLAMA, llama_body(max_gen_len=14), False),
        (LLAMA, llama_body(max_gen_len=13), True),
    ],
)
def test_token_budget_reserves_the_family_output_cap(
    model: str, body: dict[str, Any], allowed: bool, client: Any, server: LLMTestServer
) -> None:
    with synapsekit.budget(max_tokens=22):
        if allowed:
            client.invoke_model(modelId=model, body=json.dumps(body))
        else:
            with pytest.raises(BudgetExceeded):
                client.invoke_model(modelId=model, body=json.dumps(body))
    assert server.request_count == (1 if allowed else 0)


@pytest.mark.parametrize("mode", ["converse_stream", "invoke_stream_nova", "invoke_stream_llama"])
def test_budget_cuts_a_stream(mode: str, client: Any, sink: CallRecorder) -> None:
    # No output cap in the request: 2 output tokens are reserved beside the prompt's 9 (estimated from its
    # 33 characters), and the stream of 12 words runs past the 12-token budget.
    received: list[Any] = []
    with synapsekit.budget(max_tokens=12, default_max_output_tokens=2):
        if mode == "converse_stream":
            response = client.converse_stream(modelId=CLAUDE, messages=MESSAGES)
            stream = response["stream"]
        else:
            model, body = (NOVA, nova_body()) if mode.endswith("nova") else (LLAMA, llama_body())
            response = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
            stream = response["body"]
        with pytest.raises(BudgetExceeded):
            received.extend(stream)
    call = sink.only
    assert call.error_type == "BudgetExceeded"
    assert 0 < call.chunks < 12
    assert received  # the events before the cut reached the caller
    # What was streamed is billed, estimated from its text; Llama's input count had arrived, exact.
    assert call.output_tokens is not None and call.output_tokens > 0
    assert call.usage_estimated
    if mode.endswith("llama"):
        assert call.input_tokens == 7
    assert call.cost is not None and call.cost > 0


@pytest.mark.parametrize("mode", ["converse_stream", "invoke_stream"])
def test_stream_dropped_midway_raises_unchanged_and_bills_what_streamed(
    mode: str, client: Any, sink: CallRecorder
) -> None:
    received: list[Any] = []
    with sending(client, **CACHE_HEADERS, **{"x-test-drop-after": "3"}):
        response = request(client, mode)
    stream = response["stream" if mode == "converse_stream" else "body"]
    with pytest.raises(urllib3.exceptions.ProtocolError):
        received.extend(stream)
    call = sink.only
    assert call.error_type == "ProtocolError"
    assert call.chunks == 3
    # "Hello from the": 14 characters, 4 tokens at 4 characters per token.
    assert (call.output_tokens, call.usage_estimated) == (4, True)
    if mode == "invoke_stream":
        # message_start had arrived: the input side is exact.
        assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (7, 3, 2)
    assert call.cost is not None and call.cost > 0


def test_a_request_hung_up_on_is_not_billed(client: Any, sink: CallRecorder) -> None:
    with (
        sending(client, **{"x-test-drop-after": "1"}),
        pytest.raises(botocore.exceptions.BotoCoreError) as caught,
    ):
        client.converse(modelId=CLAUDE, messages=MESSAGES)
    assert_failed_unbilled(sink, type(caught.value).__qualname__)


def test_failed_stream_then_collected_ends_once(client: Any, sink: CallRecorder) -> None:
    with sending(client, **{"x-test-drop-after": "2"}):
        response = client.converse_stream(modelId=CLAUDE, messages=MESSAGES)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        list(response["stream"])
    del response
    collect_garbage()
    assert len(sink.ended) == 1

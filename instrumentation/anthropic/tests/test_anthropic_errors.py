"""Provider errors pass through unchanged; a budget rejects before anything is sent; streams can be cut."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from _anthropic_testkit import RecordingSink, consume, request

from synapsekit import BudgetExceeded
from synapsekit._core.call import LLMCall
from synapsekit._core.scope import Scope
from synapsekit.testing import LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

STATUS_ERRORS = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (529, getattr(anthropic, "OverloadedError", anthropic.InternalServerError), "overloaded_error"),
]


class RejectAll(Scope):
    gates_calls = True

    def admit(self, call: LLMCall) -> None:
        raise BudgetExceeded("no budget left", spent=1.0, limit=1.0, budget_name="test")


class CutAfterChunks(Scope):
    gates_calls = True

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks

    def on_chunk(self, call: LLMCall) -> None:
        if call.chunks >= self.chunks:
            raise BudgetExceeded("cut", spent=1.0, limit=1.0, limit_kind="tokens")


def status_headers(status: int) -> dict[str, Any]:
    return request(extra_headers={"x-test-status": str(status)})


def assert_failed_unbilled(sink: RecordingSink, error_type: str) -> None:
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.output_tokens, call.cost) == (error_type, 0, 0, 0)


@pytest.mark.parametrize(("status", "error", "body_type"), STATUS_ERRORS)
def test_status_errors_pass_through_unchanged(
    status: int,
    error: type[anthropic.APIStatusError],
    body_type: str,
    client: anthropic.Anthropic,
    sink: RecordingSink,
) -> None:
    with pytest.raises(error) as raised:
        client.messages.create(**status_headers(status))
    assert type(raised.value) is error
    assert raised.value.status_code == status
    assert raised.value.body["error"]["type"] == body_type  # type: ignore[index]
    assert_failed_unbilled(sink, error.__name__)


@pytest.mark.parametrize("mode", ["create_stream", "stream_manager"])
def test_stream_requests_raise_the_same_error(
    mode: str, client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    with pytest.raises(anthropic.RateLimitError):
        consume(client, mode, extra_headers={"x-test-status": "429"})
    assert_failed_unbilled(sink, "RateLimitError")


async def test_async_errors_pass_through_unchanged(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink, server: LLMTestServer
) -> None:
    server.fail_next(429, count=3)
    with pytest.raises(anthropic.RateLimitError):
        await async_client.messages.create(**request())
    with pytest.raises(anthropic.RateLimitError):
        await async_client.messages.create(stream=True, **request())
    with pytest.raises(anthropic.RateLimitError):
        async with async_client.messages.stream(**request()):
            pass
    assert [call.error_type for call in sink.ended] == ["RateLimitError"] * 3


def test_sdk_request_validation_errors_are_the_sdks_and_nothing_is_counted(
    client: anthropic.Anthropic, sink: RecordingSink, server: LLMTestServer
) -> None:
    with pytest.raises(TypeError):
        client.messages.create(model="claude-haiku-4-5", messages=[])  # type: ignore[call-arg]
    # The SDK refused the arguments before building a request: no request, no call.
    assert (sink.ended, server.request_count) == ([], 0)


@pytest.mark.parametrize("mode", ["create", "create_stream", "stream_manager"])
def test_budget_rejects_before_sending(
    mode: str, client: anthropic.Anthropic, sink: RecordingSink, server: LLMTestServer
) -> None:
    with RejectAll(), pytest.raises(BudgetExceeded):
        consume(client, mode)
    assert server.request_count == 0
    [call] = sink.ended
    assert call.rejected


async def test_async_budget_rejects_before_sending(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink, server: LLMTestServer
) -> None:
    with RejectAll():
        with pytest.raises(BudgetExceeded):
            await async_client.messages.create(**request())
        manager = async_client.messages.stream(**request())
        with pytest.raises(BudgetExceeded):
            async with manager:
                pass
    collect_garbage()
    assert server.request_count == 0
    assert [call.rejected for call in sink.ended] == [True, True]


def test_budget_cuts_a_stream(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    with CutAfterChunks(2):
        events = client.messages.create(stream=True, **request())
        with pytest.raises(BudgetExceeded):
            for _ in events:
                pass
    assert events.response.is_closed
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.chunks) == ("BudgetExceeded", 7, 2)

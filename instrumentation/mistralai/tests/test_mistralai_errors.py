"""Provider errors pass through unchanged; budgets refuse before sending and cut streams; every stream exit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _mistralai_testkit import EMBED_INPUTS, EMBED_MODEL, RemoteProtocolError, chat
from mistralai.client import Mistral, errors

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

# Cut short, the counts are estimated at four characters a token: "How are you today" (17) is 5 input
# tokens; "Hello" (5) is 2 output tokens, "Hello from the" (14) is 4.
PROMPT_ESTIMATE = 5


def assert_failed_unbilled(sink: CallRecorder, error_type: str) -> None:
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.output_tokens, call.cost) == (error_type, 0, 0, 0)


def assert_cut_short(sink: CallRecorder, *, output_tokens: int, error_type: str | None = None) -> None:
    collect_garbage()
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens) == (PROMPT_ESTIMATE, output_tokens)
    assert (call.usage_estimated, call.error_type, call.cost is not None) == (True, error_type, True)


def send(client: Mistral, mode: str, headers: dict[str, str] | None = None) -> None:
    if mode == "complete":
        client.chat.complete(**chat(http_headers=headers or {}))
    elif mode == "stream":
        for _ in client.chat.stream(**chat(http_headers=headers or {})):
            pass
    else:
        client.embeddings.create(model=EMBED_MODEL, inputs=EMBED_INPUTS, http_headers=headers or {})


# -- provider errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
@pytest.mark.parametrize("mode", ["complete", "stream", "embeddings"])
def test_status_errors_pass_through_unchanged(
    status: int, mode: str, client: Mistral, sink: CallRecorder
) -> None:
    headers = {"x-test-status": str(status)}
    with pytest.raises(errors.SDKError) as raised:
        send(client, mode, headers)
    assert type(raised.value) is errors.SDKError
    assert raised.value.status_code == status
    assert_failed_unbilled(sink, "SDKError")


async def test_async_errors_pass_through_unchanged(
    async_client: Mistral, server: LLMTestServer, sink: CallRecorder
) -> None:
    server.fail_next(429, count=3)
    with pytest.raises(errors.SDKError):
        await async_client.chat.complete_async(**chat())
    with pytest.raises(errors.SDKError):
        await async_client.chat.stream_async(**chat())
    with pytest.raises(errors.SDKError):
        await async_client.embeddings.create_async(model=EMBED_MODEL, inputs=EMBED_INPUTS)
    assert [(call.error_type, call.cost) for call in sink.ended] == [("SDKError", 0)] * 3


def test_validation_error_is_the_sdks(client: Mistral, sink: CallRecorder) -> None:
    with pytest.raises(errors.HTTPValidationError):
        client.chat.complete(**chat(http_headers={"x-test-status": "422"}))
    assert_failed_unbilled(sink, "HTTPValidationError")


def test_plain_request_hung_up_on_is_not_billed(client: Mistral, sink: CallRecorder) -> None:
    with pytest.raises(RemoteProtocolError):
        client.chat.complete(**chat(http_headers={"x-test-drop-after": "3"}))
    assert_failed_unbilled(sink, "RemoteProtocolError")


# -- budgets -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["complete", "stream", "embeddings"])
def test_a_budget_too_small_refuses_before_anything_is_sent(
    mode: str, client: Mistral, server: LLMTestServer, sink: CallRecorder
) -> None:
    # A cost budget below the worst case (100 output tokens at $0.60/M) and a token budget below the
    # embeddings' estimated input (24 characters: 6 tokens).
    limit: dict[str, Any] = {"max_tokens": 5} if mode == "embeddings" else {"max_cost_usd": 0.00001}
    with synapsekit.budget(**limit), pytest.raises(BudgetExceeded):
        send(client, mode)
    assert server.request_count == 0
    [call] = sink.ended
    assert call.rejected


async def test_async_budget_refusals(
    async_client: Mistral, server: LLMTestServer, sink: CallRecorder
) -> None:
    with synapsekit.budget(max_tokens=5):
        with pytest.raises(BudgetExceeded):
            await async_client.chat.complete_async(**chat())
        with pytest.raises(BudgetExceeded):
            await async_client.chat.stream_async(**chat())
        with pytest.raises(BudgetExceeded):
            await async_client.embeddings.create_async(model=EMBED_MODEL, inputs=EMBED_INPUTS)
    assert server.request_count == 0
    assert [call.rejected for call in sink.ended] == [True] * 3


def test_a_budget_admits_a_call_that_fits_and_settles_its_exact_cost(client: Mistral) -> None:
    with synapsekit.budget(max_cost_usd=0.001) as scope:
        client.chat.complete(**chat())
    assert scope.spent_usd == pytest.approx(0.00000753, abs=1e-12)


def test_a_budget_cuts_a_stream(client: Mistral, sink: CallRecorder) -> None:
    # Admitted with a 2-token output allowance (no max_tokens): 5 estimated input + "Hello from the" (4) fit
    # in 10 tokens, the fourth word (25 characters: 7 tokens) does not, and is never delivered.
    with synapsekit.budget(max_tokens=10, default_max_output_tokens=2):
        stream = client.chat.stream(**chat(max_tokens=None))
        received: list[Any] = []
        with pytest.raises(BudgetExceeded):
            received.extend(event.data.choices[0].delta.content for event in stream)
    assert stream.response.is_closed
    [call] = sink.ended
    assert (call.error_type, call.chunks) == ("BudgetExceeded", 4)
    assert "".join(received) == "Hello from the"


async def test_a_budget_cuts_an_async_stream(async_client: Mistral, sink: CallRecorder) -> None:
    with synapsekit.budget(max_tokens=10, default_max_output_tokens=2):
        stream = await async_client.chat.stream_async(**chat(max_tokens=None))
        with pytest.raises(BudgetExceeded):
            async for _ in stream:
                pass
    assert stream.response.is_closed
    [call] = sink.ended
    assert (call.error_type, call.chunks) == ("BudgetExceeded", 4)


# -- stream exits --------------------------------------------------------------------------------------------


def first_word(stream: Any) -> None:
    for event in stream:
        if event.data.choices[0].delta.content:
            assert event.data.choices[0].delta.content == "Hello"
            return


def test_break_then_close(client: Mistral, sink: CallRecorder) -> None:
    stream = client.chat.stream(**chat())
    first_word(stream)
    assert sink.ended == []
    stream.close()
    stream.close()
    assert stream.response.is_closed
    assert_cut_short(sink, output_tokens=2)


def test_context_manager_exit(client: Mistral, sink: CallRecorder) -> None:
    with client.chat.stream(**chat()) as stream:
        first_word(stream)
    assert_cut_short(sink, output_tokens=2)


def test_garbage_collected(client: Mistral, sink: CallRecorder) -> None:
    stream = client.chat.stream(**chat())
    first_word(stream)
    del stream
    assert_cut_short(sink, output_tokens=2)


def test_exhausted_stream_is_counted_once_even_if_closed_after(client: Mistral, sink: CallRecorder) -> None:
    with client.chat.stream(**chat()) as stream:
        for _ in stream:
            pass
        stream.close()
    collect_garbage()
    assert [(call.output_tokens, call.usage_estimated) for call in sink.ended] == [(12, False)]


def test_dropped_stream_raises_the_transport_error_unchanged(client: Mistral, sink: CallRecorder) -> None:
    stream = client.chat.stream(**chat(http_headers={"x-test-drop-after": "3"}))
    texts: list[Any] = []
    with pytest.raises(RemoteProtocolError):
        texts.extend(event.data.choices[0].delta.content for event in stream)
    assert "".join(texts) == "Hello from the"
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")


async def test_async_break_then_close(async_client: Mistral, sink: CallRecorder) -> None:
    stream = await async_client.chat.stream_async(**chat())
    async for event in stream:
        if event.data.choices[0].delta.content:
            break
    await stream.close()
    await stream.close()
    assert_cut_short(sink, output_tokens=2)


async def test_async_closed_from_another_task(async_client: Mistral, sink: CallRecorder) -> None:
    stream = await async_client.chat.stream_async(**chat())
    await stream.__anext__()  # the role event
    assert (await stream.__anext__()).data.choices[0].delta.content == "Hello"
    await asyncio.create_task(stream.close())
    assert_cut_short(sink, output_tokens=2)


async def test_async_dropped_stream(async_client: Mistral, sink: CallRecorder) -> None:
    stream = await async_client.chat.stream_async(**chat(http_headers={"x-test-drop-after": "3"}))
    with pytest.raises(RemoteProtocolError):
        async for _ in stream:
            pass
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")

"""Provider errors pass through unchanged; budgets refuse before sending and cut streams; every stream exit."""

from __future__ import annotations

import asyncio
from typing import Any

import cohere
import httpx
import pytest
from _cohere_testkit import EMBED_INPUTS, EMBED_MODEL, async_stream_text, chat, options, stream_text

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

# Cut short, counts are estimated at four characters a token: "How are you today" (17) is 5 input tokens;
# "Hello" (5) is 2 output tokens, "Hello from the" (14) is 4.
PROMPT_ESTIMATE = 5
STATUS_ERRORS = [
    (400, cohere.BadRequestError),
    (401, cohere.UnauthorizedError),
    (429, cohere.TooManyRequestsError),
    (500, cohere.InternalServerError),
]


def assert_failed_unbilled(sink: CallRecorder, error_type: str) -> None:
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.output_tokens, call.cost) == (error_type, 0, 0, 0)


def assert_cut_short(sink: CallRecorder, *, output_tokens: int, error_type: str | None = None) -> None:
    collect_garbage()
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens) == (PROMPT_ESTIMATE, output_tokens)
    assert (call.usage_estimated, call.error_type, call.cost is not None) == (True, error_type, True)


def send(client: cohere.ClientV2, mode: str, **headers: str) -> None:
    if mode == "chat":
        client.chat(**chat(request_options=options(**headers)))
    elif mode == "chat_stream":
        stream_text(client, request_options=options(**headers))
    else:
        client.embed(
            model=EMBED_MODEL,
            texts=EMBED_INPUTS,
            input_type="search_document",
            request_options=options(**headers),
        )


# -- provider errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), STATUS_ERRORS)
@pytest.mark.parametrize("mode", ["chat", "chat_stream", "embed"])
def test_status_errors_pass_through_unchanged(
    status: int, error: type[cohere.core.ApiError], mode: str, client: cohere.ClientV2, sink: CallRecorder
) -> None:
    with pytest.raises(error) as raised:
        send(client, mode, **{"x-test-status": str(status)})
    assert type(raised.value) is error
    assert raised.value.status_code == status
    assert_failed_unbilled(sink, error.__name__)


async def test_async_errors_pass_through_unchanged(
    async_client: cohere.AsyncClientV2, server: LLMTestServer, sink: CallRecorder
) -> None:
    server.fail_next(429, count=3)
    with pytest.raises(cohere.TooManyRequestsError):
        await async_client.chat(**chat())
    with pytest.raises(cohere.TooManyRequestsError):
        await async_stream_text(async_client)
    with pytest.raises(cohere.TooManyRequestsError):
        await async_client.embed(
            model=EMBED_MODEL, texts=EMBED_INPUTS, input_type="search_document", request_options=options()
        )
    assert [(call.error_type, call.cost) for call in sink.ended] == [("TooManyRequestsError", 0)] * 3


def test_plain_request_hung_up_on_is_not_billed(client: cohere.ClientV2, sink: CallRecorder) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        send(client, "chat", **{"x-test-drop-after": "3"})
    assert_failed_unbilled(sink, "RemoteProtocolError")


# -- budgets -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["chat", "chat_stream", "embed"])
def test_a_budget_too_small_refuses_before_anything_is_sent(
    mode: str, client: cohere.ClientV2, server: LLMTestServer, sink: CallRecorder
) -> None:
    # A cost budget below the worst case (100 output tokens at $0.60/M); a token budget below the embed
    # request's estimated input (24 characters: 6 tokens).
    limit: dict[str, Any] = {"max_tokens": 5} if mode == "embed" else {"max_cost_usd": 0.00001}
    with synapsekit.budget(**limit), pytest.raises(BudgetExceeded):
        send(client, mode)
    assert server.request_count == 0
    assert sink.only.rejected


async def test_async_budget_refusals(
    async_client: cohere.AsyncClientV2, server: LLMTestServer, sink: CallRecorder
) -> None:
    with synapsekit.budget(max_tokens=5):
        with pytest.raises(BudgetExceeded):
            await async_client.chat(**chat())
        with pytest.raises(BudgetExceeded):
            await async_stream_text(async_client)
        with pytest.raises(BudgetExceeded):
            await async_client.embed(
                model=EMBED_MODEL, texts=EMBED_INPUTS, input_type="search_document", request_options=options()
            )
    assert server.request_count == 0
    assert [call.rejected for call in sink.ended] == [True] * 3


def test_a_budget_settles_the_billed_cost(client: cohere.ClientV2) -> None:
    with synapsekit.budget(max_cost_usd=0.001) as scope:
        client.chat(**chat())
    assert scope.spent_usd == pytest.approx(0.0000078, abs=1e-12)
    assert scope.spent_tokens == 16  # billed 4 + 12, not the 68 + 13 the model processed


def test_a_budget_cuts_a_stream(client: cohere.ClientV2, sink: CallRecorder) -> None:
    # Admitted with a 2-token output allowance (no max_tokens): 5 estimated input + "Hello from the" (4) fit
    # in 10 tokens, the fourth word (25 characters: 7 tokens) does not, and is never delivered.
    received: list[str] = []
    with synapsekit.budget(max_tokens=10, default_max_output_tokens=2):
        events = client.chat_stream(**chat(max_tokens=None))
        with pytest.raises(BudgetExceeded):
            received.extend(
                event.delta.message.content.text for event in events if event.type == "content-delta"
            )
    assert "".join(received) == "Hello from the"
    [call] = sink.ended
    assert (call.error_type, call.chunks) == ("BudgetExceeded", 4)


async def test_a_budget_cuts_an_async_stream(async_client: cohere.AsyncClientV2, sink: CallRecorder) -> None:
    with synapsekit.budget(max_tokens=10, default_max_output_tokens=2), pytest.raises(BudgetExceeded):
        await async_stream_text(async_client, max_tokens=None)
    [call] = sink.ended
    assert (call.error_type, call.chunks) == ("BudgetExceeded", 4)


# -- stream exits --------------------------------------------------------------------------------------------


def first_text(events: Any) -> None:
    for event in events:
        if event.type == "content-delta":
            assert event.delta.message.content.text == "Hello"
            return


def test_break_then_close(client: cohere.ClientV2, sink: CallRecorder) -> None:
    events = client.chat_stream(**chat())
    first_text(events)
    assert sink.ended == []
    events.close()
    events.close()
    assert_cut_short(sink, output_tokens=2)


def test_garbage_collected(client: cohere.ClientV2, sink: CallRecorder) -> None:
    events = client.chat_stream(**chat())
    first_text(events)
    del events
    assert_cut_short(sink, output_tokens=2)


def test_raw_stream_manager_left_early(client: cohere.ClientV2, sink: CallRecorder) -> None:
    with client.with_raw_response.chat_stream(**chat()) as response:
        first_text(response.data)
    assert_cut_short(sink, output_tokens=2)


def test_an_error_in_the_callers_block_fails_the_call(client: cohere.ClientV2, sink: CallRecorder) -> None:
    def read_then_fail() -> None:
        with client.with_raw_response.chat_stream(**chat()) as response:
            first_text(response.data)
            raise KeyError("caller")

    with pytest.raises(KeyError):
        read_then_fail()
    assert_cut_short(sink, output_tokens=2, error_type="KeyError")


def test_dropped_stream_raises_the_transport_error_unchanged(
    client: cohere.ClientV2, sink: CallRecorder
) -> None:
    texts: list[str] = []
    events = client.chat_stream(**chat(request_options=options(**{"x-test-drop-after": "3"})))
    with pytest.raises(httpx.RemoteProtocolError):
        texts.extend(event.delta.message.content.text for event in events if event.type == "content-delta")
    assert "".join(texts) == "Hello from the"
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")


async def test_async_break_then_aclose(async_client: cohere.AsyncClientV2, sink: CallRecorder) -> None:
    events = async_client.chat_stream(**chat())
    async for event in events:
        if event.type == "content-delta":
            break
    await events.aclose()  # type: ignore[attr-defined]
    await events.aclose()  # type: ignore[attr-defined]
    assert_cut_short(sink, output_tokens=2)


async def test_async_closed_from_another_task(async_client: cohere.AsyncClientV2, sink: CallRecorder) -> None:
    events = async_client.chat_stream(**chat())
    assert (await events.__anext__()).type == "message-start"
    assert (await events.__anext__()).type == "content-start"
    assert (await events.__anext__()).type == "content-delta"
    await asyncio.create_task(events.aclose())  # type: ignore[attr-defined]
    assert_cut_short(sink, output_tokens=2)


async def test_async_dropped_stream(async_client: cohere.AsyncClientV2, sink: CallRecorder) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await async_stream_text(async_client, request_options=options(**{"x-test-drop-after": "3"}))
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")

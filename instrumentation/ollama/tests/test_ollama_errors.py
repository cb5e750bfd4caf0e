"""Provider errors pass through unchanged; token budgets refuse before sending and cut streams; stream exits."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import ollama
import pytest
from _ollama_testkit import EMBED_INPUTS, EMBED_MODEL, MODEL, MODES, USER, send, send_async

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

# Cut short, counts are estimated at four characters a token: "How are you today" (17) is 5 input tokens;
# "Hello" (5) is 2 output tokens, "Hello from the" (14) is 4.
PROMPT_ESTIMATE = 5


def faulty(server: LLMTestServer, **headers: str) -> ollama.Client:
    return ollama.Client(host=server.ollama_base_url, headers=headers)


def assert_failed_unbilled(sink: CallRecorder, error_type: str) -> None:
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.output_tokens, call.cost) == (error_type, 0, 0, 0)


def assert_cut_short(sink: CallRecorder, *, output_tokens: int, error_type: str | None = None) -> None:
    collect_garbage()
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.cost) == (PROMPT_ESTIMATE, output_tokens, 0)
    assert (call.usage_estimated, call.error_type) == (True, error_type)


# -- provider errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 429, 500])
@pytest.mark.parametrize("mode", MODES)
def test_status_errors_pass_through_unchanged(
    status: int, mode: str, server: LLMTestServer, sink: CallRecorder
) -> None:
    with pytest.raises(ollama.ResponseError) as raised:
        send(faulty(server, **{"x-test-status": str(status)}), mode)
    assert type(raised.value) is ollama.ResponseError
    assert raised.value.status_code == status
    assert_failed_unbilled(sink, "ResponseError")


async def test_async_errors_pass_through_unchanged(server: LLMTestServer, sink: CallRecorder) -> None:
    client = ollama.AsyncClient(host=server.ollama_base_url, headers={"x-test-status": "503"})
    for mode in MODES:
        with pytest.raises(ollama.ResponseError):
            await send_async(client, mode)
    with pytest.raises(ollama.ResponseError):
        await client.embed(model=EMBED_MODEL, input=EMBED_INPUTS)
    assert [(call.error_type, call.cost) for call in sink.ended] == [("ResponseError", 0)] * 5


def test_plain_request_hung_up_on_is_not_billed(server: LLMTestServer, sink: CallRecorder) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        send(faulty(server, **{"x-test-drop-after": "3"}), "chat")
    assert_failed_unbilled(sink, "RemoteProtocolError")


# -- budgets -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_token_budget_too_small_refuses_before_anything_is_sent(
    mode: str, client: ollama.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    # $0 models still have token budgets: 5 estimated input + num_predict 100 does not fit in 50.
    with synapsekit.budget(max_tokens=50), pytest.raises(BudgetExceeded):
        send(client, mode, num_predict=100)
    assert server.request_count == 0
    assert sink.only.rejected


async def test_async_budget_refusals(
    async_client: ollama.AsyncClient, server: LLMTestServer, sink: CallRecorder
) -> None:
    with synapsekit.budget(max_tokens=3):
        for mode in MODES:
            with pytest.raises(BudgetExceeded):
                await send_async(async_client, mode)
        with pytest.raises(BudgetExceeded):
            await async_client.embed(model=EMBED_MODEL, input=EMBED_INPUTS)
    assert server.request_count == 0
    assert [call.rejected for call in sink.ended] == [True] * 5


def test_a_cost_budget_never_refuses_a_free_model(client: ollama.Client, sink: CallRecorder) -> None:
    with synapsekit.budget(max_cost_usd=0.000001) as scope:
        send(client, "chat", num_predict=100)
    assert (scope.spent_usd, sink.only.output_tokens) == (0.0, 12)


def test_a_budget_cuts_a_stream(client: ollama.Client, sink: CallRecorder) -> None:
    # Admitted with a 2-token output allowance (no num_predict): 5 estimated input + "Hello from the" (4) fit
    # in 10 tokens, the fourth word (25 characters: 7 tokens) does not, and is never delivered.
    received: list[str] = []
    with synapsekit.budget(max_tokens=10, default_max_output_tokens=2):
        parts = client.chat(model=MODEL, messages=USER, stream=True)
        with pytest.raises(BudgetExceeded):
            received.extend(part.message.content or "" for part in parts)
    assert "".join(received) == "Hello from the"
    [call] = sink.ended
    assert (call.error_type, call.chunks) == ("BudgetExceeded", 4)


async def test_a_budget_cuts_an_async_stream(async_client: ollama.AsyncClient, sink: CallRecorder) -> None:
    with synapsekit.budget(max_tokens=10, default_max_output_tokens=2):
        parts = await async_client.chat(model=MODEL, messages=USER, stream=True)
        with pytest.raises(BudgetExceeded):
            async for _ in parts:
                pass
    [call] = sink.ended
    assert (call.error_type, call.chunks) == ("BudgetExceeded", 4)


# -- stream exits --------------------------------------------------------------------------------------------


def test_break_then_close(client: ollama.Client, sink: CallRecorder) -> None:
    parts = client.chat(model=MODEL, messages=USER, stream=True)
    assert next(parts).message.content == "Hello"
    assert sink.ended == []
    parts.close()
    parts.close()
    assert_cut_short(sink, output_tokens=2)


def test_garbage_collected(client: ollama.Client, sink: CallRecorder) -> None:
    parts = client.chat(model=MODEL, messages=USER, stream=True)
    for _ in parts:
        break
    del parts
    assert_cut_short(sink, output_tokens=2)


def test_a_stream_never_started_sends_nothing(
    client: ollama.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    parts = client.chat(model=MODEL, messages=USER, stream=True)
    parts.close()
    collect_garbage()
    assert server.request_count == 0
    [call] = sink.ended
    assert (call.output_tokens, call.chunks, call.error_type) == (0, 0, None)


def test_dropped_stream_raises_the_transport_error_unchanged(
    server: LLMTestServer, sink: CallRecorder
) -> None:
    parts = faulty(server, **{"x-test-drop-after": "3"}).chat(model=MODEL, messages=USER, stream=True)
    texts: list[Any] = []
    with pytest.raises(httpx.RemoteProtocolError):
        texts.extend(part.message.content for part in parts)
    assert "".join(texts) == "Hello from the"
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")


async def test_async_break_then_aclose(async_client: ollama.AsyncClient, sink: CallRecorder) -> None:
    parts = await async_client.chat(model=MODEL, messages=USER, stream=True)
    async for _ in parts:
        break
    await parts.aclose()
    await parts.aclose()
    assert_cut_short(sink, output_tokens=2)


async def test_async_closed_from_another_task(async_client: ollama.AsyncClient, sink: CallRecorder) -> None:
    parts = await async_client.generate(model=MODEL, prompt="How are you today", stream=True)
    assert (await parts.__anext__()).response == "Hello"
    await asyncio.create_task(parts.aclose())
    assert_cut_short(sink, output_tokens=2)


async def test_async_dropped_stream(server: LLMTestServer, sink: CallRecorder) -> None:
    client = ollama.AsyncClient(host=server.ollama_base_url, headers={"x-test-drop-after": "3"})
    parts = await client.chat(model=MODEL, messages=USER, stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        async for _ in parts:
            pass
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")

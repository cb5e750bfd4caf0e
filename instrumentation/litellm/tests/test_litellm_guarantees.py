"""Counted once under the openai instrumentor; budgets refuse before sending and cut streams; stream exits;
provider errors unchanged; spans; concurrency."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import litellm
import pytest
from _litellm_testkit import ANTHROPIC, MODES, OPENAI, OUTPUT_TOKENS, request, send_any

import synapsekit
import synapsekit.plugin
from synapsekit import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")
# Older litellm streams (1.80) have no close(), aclose() or context-manager methods of their own.
HAS_CLOSE = hasattr(litellm.CustomStreamWrapper, "close")
needs_close = pytest.mark.skipif(not HAS_CLOSE, reason="this litellm's streams have no close()")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("openai_on", [False, True], ids=["litellm-only", "with-openai-instrumentor"])
async def test_openai_route_counted_once(
    mode: str, openai_on: bool, server: LLMTestServer, sink: CallRecorder
) -> None:
    if openai_on:
        synapsekit.instrument("openai")
    try:
        with synapsekit.track() as tally:
            seen = await send_any(OPENAI, server, mode)
    finally:
        synapsekit.uninstrument("openai")
    assert server.request_count == 1
    # Exactly one count. Whether the openai instrumentor's call (closest to the wire) or ours is the counted
    # one depends on whether it sees the SDK path litellm takes (litellm sends chat through
    # ``client.post(...)``, which only a base-client-level openai instrumentor sees).
    [call] = sink.ended
    assert openai_on or not call.wire
    assert (call.provider, call.request_model, call.input_tokens, call.output_tokens) == (
        "openai",
        "gpt-4o-mini",
        3,
        OUTPUT_TOKENS,
    )
    assert call.cost == OPENAI.cost_3_in_4_out
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, 3, OUTPUT_TOKENS)
    if mode in ("stream", "astream"):
        assert not any(view[2] for view in seen)  # no usage chunk shown


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", [ANTHROPIC, OPENAI], ids=lambda route: route.provider)
async def test_budget_refuses_before_anything_is_sent(
    route: Any, mode: str, server: LLMTestServer, sink: CallRecorder
) -> None:
    # The worst case, 3 input + 50 output tokens, costs more than a millionth of a dollar on either model.
    with synapsekit.budget(max_cost_usd=0.000001), pytest.raises(BudgetExceeded):
        await send_any(route, server, mode)
    assert server.request_count == 0
    [call] = sink.ended
    assert (call.rejected, call.max_output_tokens, call.cost) == (True, 50, 0)


async def test_budget_refuses_with_the_openai_instrumentor_too(
    server: LLMTestServer, sink: CallRecorder
) -> None:
    synapsekit.instrument("openai")
    try:
        with synapsekit.budget(max_cost_usd=0.000001), pytest.raises(BudgetExceeded):
            litellm.completion(**request(OPENAI, server))
    finally:
        synapsekit.uninstrument("openai")
    assert server.request_count == 0
    assert [call.rejected for call in sink.ended] == [True]


async def collect(stream: Any, into: list[Any]) -> None:
    async for chunk in stream:
        into.append(chunk)


@pytest.mark.parametrize("is_async", [False, True])
async def test_budget_cuts_a_stream(is_async: bool, server: LLMTestServer, sink: CallRecorder) -> None:
    # No max_tokens: the reservation covers 3 input + 1 output token; the twelve streamed words overrun 8.
    kwargs = request(ANTHROPIC, server, extra_headers={"x-test-output-tokens": "12"})
    del kwargs["max_tokens"]
    received: list[Any] = []
    with synapsekit.budget(max_tokens=8, default_max_output_tokens=1):
        if is_async:
            stream = await litellm.acompletion(stream=True, **kwargs)
            with pytest.raises(BudgetExceeded):
                await collect(stream, received)
        else:
            stream = litellm.completion(stream=True, **kwargs)
            with pytest.raises(BudgetExceeded):
                received.extend(stream)  # appends each chunk as it arrives
    assert 0 < len(received) < 12
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.usage_estimated) == ("BudgetExceeded", 3, True)
    if HAS_CLOSE:
        assert stream.completion_stream is None  # litellm's stream was closed


@needs_close
def test_stream_break_and_close(server: LLMTestServer, sink: CallRecorder) -> None:
    stream = litellm.completion(stream=True, **request(ANTHROPIC, server))
    for _ in stream:
        break
    assert sink.ended == []
    stream.close()
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.chunks, call.usage_estimated) == (None, 3, 1, True)


@needs_close
def test_stream_context_manager_exit(server: LLMTestServer, sink: CallRecorder) -> None:
    with litellm.completion(stream=True, **request(ANTHROPIC, server)) as stream:
        next(iter(stream))
    [call] = sink.ended
    assert (call.chunks, call.usage_estimated) == (1, True)


def test_stream_garbage_collected(server: LLMTestServer, sink: CallRecorder) -> None:
    stream = litellm.completion(stream=True, **request(ANTHROPIC, server))
    next(iter(stream))
    del stream
    collect_garbage()
    [call] = sink.ended
    assert call.chunks == 1


@needs_close
async def test_async_stream_aclose_and_close(server: LLMTestServer, sink: CallRecorder) -> None:
    stream = await litellm.acompletion(stream=True, **request(ANTHROPIC, server))
    await stream.__anext__()
    await stream.aclose()
    other = await litellm.acompletion(stream=True, **request(ANTHROPIC, server))
    await other.__anext__()
    other.close()  # litellm's close() is synchronous, even on an async stream
    assert [(call.chunks, call.usage_estimated) for call in sink.ended] == [(1, True), (1, True)]


@needs_close
async def test_async_stream_context_manager(server: LLMTestServer, sink: CallRecorder) -> None:
    async with await litellm.acompletion(stream=True, **request(ANTHROPIC, server)) as stream:
        texts = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert "".join(text for text in texts if text) == "Hello from the synapsekit"
    [call] = sink.ended
    assert (call.output_tokens, call.usage_estimated) == (OUTPUT_TOKENS, False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [429, 500])
async def test_provider_errors_pass_through_unbilled(
    status: int, mode: str, server: LLMTestServer, sink: CallRecorder
) -> None:
    expected = litellm.RateLimitError if status == 429 else litellm.InternalServerError
    with pytest.raises(expected):
        await send_any(ANTHROPIC, server, mode, extra_headers={"x-test-status": str(status)})
    [call] = sink.ended
    assert (call.error_type, call.input_tokens, call.output_tokens, call.cost) == (
        expected.__qualname__,
        0,
        0,
        0,
    )


def test_stream_dropped_midway_counts_what_arrived(server: LLMTestServer, sink: CallRecorder) -> None:
    stream = litellm.completion(
        stream=True, **request(ANTHROPIC, server, extra_headers={"x-test-drop-after": "2"})
    )
    # litellm raises APIConnectionError, or (newer releases) MidStreamFallbackError wrapping it.
    with pytest.raises(
        (litellm.APIConnectionError, getattr(litellm.exceptions, "MidStreamFallbackError", OSError))
    ) as raised:
        list(stream)
    [call] = sink.ended
    assert call.error_type == type(raised.value).__qualname__
    assert (call.chunks, call.usage_estimated) == (2, True)


@pytest.mark.parametrize("mode", MODES)
async def test_one_client_span(mode: str, server: LLMTestServer, span_exporter: Any) -> None:
    await send_any(ANTHROPIC, server, mode)
    [span] = span_exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert (span.name, span.kind.name) == ("chat claude-haiku-4-5", "CLIENT")
    assert {key: attributes[key] for key in (
        "gen_ai.provider.name",
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.request.max_tokens",
    )} == {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-haiku-4-5",
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": OUTPUT_TOKENS,
        "gen_ai.request.max_tokens": 50,
    }  # fmt: skip
    assert attributes["gen_ai.usage.cost"] == pytest.approx(0.000023)


@pytest.mark.parametrize("mode", MODES)
async def test_one_span_with_the_openai_instrumentor(
    mode: str, server: LLMTestServer, span_exporter: Any
) -> None:
    synapsekit.instrument("openai")
    try:
        await send_any(OPENAI, server, mode)
    finally:
        synapsekit.uninstrument("openai")
    [span] = span_exporter.get_finished_spans()
    assert (span.name, (span.attributes or {})["gen_ai.usage.output_tokens"]) == (
        "chat gpt-4o-mini",
        OUTPUT_TOKENS,
    )


def test_threads_each_count_once(server: LLMTestServer, sink: CallRecorder) -> None:
    with synapsekit.track() as tally, synapsekit.ContextThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: litellm.completion(**request(ANTHROPIC, server)), range(8)))
    assert len(results) == 8 and server.request_count == 8
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (8, 24, 8 * OUTPUT_TOKENS)
    assert len(sink.ended) == 8


async def test_tasks_each_count_once(server: LLMTestServer, sink: CallRecorder) -> None:
    async def one(index: int) -> int:
        stream = await litellm.acompletion(stream=True, **request(ANTHROPIC, server))
        return len([chunk async for chunk in stream])

    with synapsekit.track() as tally:
        counts = await asyncio.gather(*(one(index) for index in range(6)))
    assert counts == [counts[0]] * 6 and server.request_count == 6
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (6, 18, 6 * OUTPUT_TOKENS)


class InnerWireCall(litellm.integrations.custom_logger.CustomLogger):  # type: ignore[misc]
    """Stands in for an instrumented SDK under litellm: a wire-level call started just before the request."""

    def __init__(self) -> None:
        super().__init__()
        self.active = True
        self.calls: list[Any] = []

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        if not self.active:
            return
        call = synapsekit.plugin.start_call("anthropic", "chat", "claude-haiku-4-5")
        call.record_usage(input_tokens=3, output_tokens=OUTPUT_TOKENS)
        call.finish()
        self.calls.append(call)


def test_an_inner_wire_call_takes_over(server: LLMTestServer, sink: CallRecorder) -> None:
    inner = InnerWireCall()
    previous = list(litellm.callbacks)
    litellm.callbacks = [inner]
    try:
        litellm.completion(**request(ANTHROPIC, server))
    finally:
        # litellm copies callbacks into its own lists as it uses them: switched off and removed everywhere.
        inner.active = False
        litellm.callbacks = previous
        for name in dir(litellm):
            registered = getattr(litellm, name, None)
            if name.endswith("callback") or name.endswith("callbacks"):
                while isinstance(registered, list) and inner in registered:
                    registered.remove(inner)
    assert server.request_count == 1
    assert sink.ended == inner.calls and len(inner.calls) == 1
    [outer] = [call for call in sink.started if call not in inner.calls]
    assert (outer.delegated, outer.wire) == (True, False)


def test_content_only_when_opted_in(server: LLMTestServer, sink: CallRecorder) -> None:
    from synapsekit._core import config as _config

    litellm.completion(**request(ANTHROPIC, server))
    _config.set_capture_content(True)
    try:
        litellm.completion(**request(ANTHROPIC, server))
    finally:
        _config.set_capture_content(None)
    first, second = sink.ended
    assert (first.input_messages, first.output_messages) == (None, None)
    assert second.input_messages == [{"role": "user", "parts": [{"type": "text", "content": "hi there you"}]}]
    assert second.output_messages == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the synapsekit"}],
            "finish_reason": "stop",
        }
    ]


async def test_router_calls_are_counted_once(server: LLMTestServer, sink: CallRecorder) -> None:
    params = {"model": ANTHROPIC.model, "api_base": server.anthropic_base_url, "api_key": "k"}
    router = litellm.Router(model_list=[{"model_name": "fast", "litellm_params": params}])
    router.completion(model="fast", messages=[{"role": "user", "content": "hi there you"}])
    await router.acompletion(model="fast", messages=[{"role": "user", "content": "hi there you"}])
    assert server.request_count == 2
    assert [(call.provider, call.request_model, call.input_tokens) for call in sink.ended] == [
        ("anthropic", "claude-haiku-4-5", 3)
    ] * 2


def test_mistral_route(server: LLMTestServer, sink: CallRecorder) -> None:
    litellm.completion(
        model="mistral/mistral-small-latest",
        api_base=server.mistral_base_url + "/v1",
        api_key="k",
        messages=[{"role": "user", "content": "hi there you"}],
        max_tokens=50,
    )
    [call] = sink.ended
    # mistral-small-latest: $0.15/M input, $0.60/M output.
    assert (call.provider, call.request_model, call.input_tokens, call.output_tokens) == (
        "mistral_ai",
        "mistral-small-latest",
        3,
        OUTPUT_TOKENS,
    )
    assert call.cost == Decimal("0.00000285")


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_budget_cut_beneath_litellm_reaches_the_caller(
    is_async: bool, server: LLMTestServer, sink: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An instrumented SDK stream under litellm raises BudgetExceeded inside litellm's iteration, which maps
    # every exception there to its own: stood in for by litellm's chunk builder raising it.
    cut = BudgetExceeded("cut beneath", spent=1.0, limit=1.0, limit_kind="tokens")
    original = litellm.CustomStreamWrapper.chunk_creator
    seen: list[Any] = []

    def cut_second_chunk(self: Any, chunk: Any) -> Any:
        seen.append(chunk)
        if len(seen) == 2:
            raise cut
        return original(self, chunk)

    monkeypatch.setattr(litellm.CustomStreamWrapper, "chunk_creator", cut_second_chunk)
    received: list[Any] = []
    if is_async:
        stream = await litellm.acompletion(stream=True, **request(ANTHROPIC, server))
        with pytest.raises(BudgetExceeded) as raised:
            await collect(stream, received)
    else:
        stream = litellm.completion(stream=True, **request(ANTHROPIC, server))
        with pytest.raises(BudgetExceeded) as raised:
            received.extend(stream)
    assert raised.value is cut
    # litellm did wrap it (MidStreamFallbackError, or APIConnectionError on older releases).
    assert type(raised.value.__context__).__module__ == "litellm.exceptions"
    [call] = sink.ended
    assert call.error is not None

"""The LLM-call lifecycle: one record per provider request, ended once, dispatched to scopes and sinks."""

from __future__ import annotations

import asyncio
import threading

import pytest

import synapsekit
from synapsekit._core.call import LLMCall, current_call, start_call
from synapsekit._core.scope import Tally

from .conftest import RecordingSink


def _finished_call(tally: Tally, **usage: int) -> LLMCall:
    with tally:
        call = start_call("synapsekit", "chat", "synapsekit-offline")
    with call:
        assert current_call() is call
    call.record_usage(**usage)
    call.finish()
    return call


def test_finish_dispatches_once_to_scopes_and_sinks(sink: RecordingSink) -> None:
    tally = Tally()
    call = _finished_call(tally, input_tokens=10, output_tokens=5)
    call.finish()
    call.fail(RuntimeError("late"))
    call.abandon()
    assert sink.started == [call]
    assert sink.ended == [call]
    assert tally.tokens == {"input": 10, "output": 5, "total": 15}
    assert tally.calls == 1
    assert call.error_type is None
    assert call.latency_s is not None and call.latency_s >= 0


def test_scopes_are_captured_when_the_call_starts() -> None:
    tally = Tally()
    with tally:
        call = start_call("synapsekit", "chat", "m")
    # Ends outside the scope (a stream finished later, elsewhere): still reported to it.
    call.record_usage(input_tokens=3, output_tokens=4)
    call.finish()
    assert tally.tokens == {"input": 3, "output": 4, "total": 7}


def test_failure_without_usage_counts_zero_tokens_and_error_type(sink: RecordingSink) -> None:
    tally = Tally()
    with tally:
        call = start_call("synapsekit", "chat", "m")
    with pytest.raises(ValueError, match="boom"), call:
        raise ValueError("boom")
    assert call.error_type == "ValueError"
    assert (call.input_tokens, call.output_tokens) == (0, 0)
    assert tally.failed_calls == 1
    assert sink.ended == [call]


def test_racing_ends_from_threads_dispatch_exactly_once(sink: RecordingSink) -> None:
    for _ in range(50):
        call = start_call("synapsekit", "chat", "m")
        call.record_usage(input_tokens=1, output_tokens=1)
        barrier = threading.Barrier(8)

        def end(call: LLMCall = call, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            call.finish()

        threads = [threading.Thread(target=end) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(sink.ended) == 50


def test_inner_wire_call_supersedes_outer_layer(sink: RecordingSink) -> None:
    tally = Tally()
    with tally:
        outer = start_call(
            "synapsekit",
            "chat",
            "outer-model",
            prompt="hello there",
            wire=False,
            attributes={"synapsekit.component": "MyLLM"},
        )
        with outer:
            inner = start_call("openai", "chat", "gpt-4o-mini")
            with inner:
                pass
            inner.record_usage(input_tokens=7, output_tokens=2)
            inner.finish()
        outer.record_usage(input_tokens=100, output_tokens=100)
        outer.finish()
    assert outer.delegated
    assert sink.ended == [inner]
    assert inner.attributes == {"synapsekit.component": "MyLLM"}
    assert inner.prompt_text == "hello there"
    assert tally.tokens == {"input": 7, "output": 2, "total": 9}
    assert tally.calls == 1


def test_two_wire_calls_inside_one_outer_layer_are_two_requests() -> None:
    tally = Tally()
    with tally:
        outer = start_call("synapsekit", "chat", "m", wire=False)
        with outer:
            for _ in range(2):
                inner = start_call("openai", "chat", "m")
                inner.record_usage(input_tokens=1, output_tokens=1)
                inner.finish()
        outer.finish()
    assert tally.calls == 2


def test_abandon_estimates_missing_usage_from_text_and_prompt() -> None:
    tally = Tally()
    with tally:
        call = start_call("synapsekit", "chat", "m", streamed=True, prompt=lambda: "x" * 41)
    call.chunk("abcd")
    call.chunk("efghi")
    call.abandon()
    # 9 characters → 3 tokens (4 chars per token, rounded up); 41-character prompt → 11 tokens.
    assert (call.input_tokens, call.output_tokens) == (11, 3)
    assert call.usage_estimated
    assert call.chunks == 2
    assert call.time_to_first_chunk_s is not None
    assert tally.estimated_calls == 1


def test_exact_usage_is_kept_when_a_stream_is_abandoned_after_it() -> None:
    call = start_call("synapsekit", "chat", "m", streamed=True, prompt="p")
    call.chunk("abc")
    call.record_usage(input_tokens=5, output_tokens=1)
    call.abandon()
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (5, 1, False)


def test_sink_failure_is_raised_in_strict_mode_and_logged_otherwise(caplog: pytest.LogCaptureFixture) -> None:
    from synapsekit._core.errors import set_strict

    class Exploding:
        def on_call_start(self, call: LLMCall) -> None:
            pass

        def on_call_end(self, call: LLMCall) -> None:
            raise RuntimeError("sink bug")

    exploding = Exploding()
    synapsekit.add_sink(exploding)
    try:
        call = start_call("synapsekit", "chat", "m")
        with pytest.raises(RuntimeError, match="sink bug"):
            call.finish()
        set_strict(False)
        try:
            tally = Tally()
            with tally:
                other = start_call("synapsekit", "chat", "m")
            other.record_usage(input_tokens=2, output_tokens=3)
            other.finish()  # no exception: the user's call proceeds
            assert tally.tokens["total"] == 5
            assert "sink.on_call_end:Exploding" in caplog.text
        finally:
            set_strict(True)
    finally:
        synapsekit.remove_sink(exploding)


def test_failed_call_records_error_and_zero_cost_for_a_priced_model() -> None:
    call = start_call("synapsekit", "chat", "synapsekit-offline")
    call.fail(TimeoutError())
    assert call.error_type == "TimeoutError"
    assert call.cost == 0


def test_content_is_recorded_only_when_opted_in_and_after_redaction(span_exporter: object) -> None:
    from synapsekit._core import config as _config

    def run() -> dict[str, object]:
        call = start_call("openai", "chat", "gpt-4o-mini")
        call.input_messages = [{"role": "user", "parts": [{"type": "text", "content": "my card is 4111"}]}]
        call.output_messages = [{"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}]
        call.record_usage(input_tokens=1, output_tokens=1)
        call.finish()
        spans = span_exporter.get_finished_spans()  # type: ignore[attr-defined]
        span_exporter.clear()  # type: ignore[attr-defined]
        return dict(spans[-1].attributes)

    assert "gen_ai.input.messages" not in run()
    _config.set_capture_content(True)
    try:
        attributes = run()
        assert attributes["gen_ai.input.messages"] == (
            '[{"role": "user", "parts": [{"type": "text", "content": "my card is 4111"}]}]'
        )
        _config.set_redactor(
            lambda messages: [{**m, "parts": [{"type": "text", "content": "[redacted]"}]} for m in messages]
        )
        attributes = run()
        assert "4111" not in str(attributes["gen_ai.input.messages"])
        assert "[redacted]" in str(attributes["gen_ai.output.messages"])
        _config.set_redactor(lambda messages: None)
        assert "gen_ai.input.messages" not in run()
    finally:
        _config.set_redactor(None)
        _config.set_capture_content(None)


def test_a_sink_that_does_not_observe_call_starts_is_not_told_of_them() -> None:
    class Sink:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_call_start(self, call: LLMCall) -> None:
            self.seen.append("start")

        def on_call_end(self, call: LLMCall) -> None:
            self.seen.append("end")

    class EndsOnly(Sink):
        observes_call_start = False

    both, ends_only = Sink(), EndsOnly()
    synapsekit.add_sink(both)
    synapsekit.add_sink(ends_only)
    try:
        start_call("synapsekit", "chat", "m").finish()
    finally:
        synapsekit.remove_sink(both)
        synapsekit.remove_sink(ends_only)
    start_call("synapsekit", "chat", "m").finish()  # removed from both lists: neither hears of it
    assert (both.seen, ends_only.seen) == (["start", "end"], ["end"])


def test_send_runs_the_function_with_the_call_in_flight_and_ends_nothing(sink: RecordingSink) -> None:
    call = start_call("synapsekit", "chat", "m")
    seen: list[object] = []

    def send(a: int, *, b: int) -> int:
        seen.append(current_call())
        return a + b

    assert call.send(send, (2,), {"b": 3}) == 5
    assert seen == [call]
    assert current_call() is None
    assert not call.ended  # the caller finishes it once the response is read
    call.finish()
    assert sink.ended == [call]


def test_send_fails_the_call_resets_the_context_and_reraises(sink: RecordingSink) -> None:
    tally = Tally()
    with tally:
        call = start_call("synapsekit", "chat", "m")

    def send() -> None:
        assert current_call() is call
        raise TimeoutError("provider timed out")

    with pytest.raises(TimeoutError, match="provider timed out"):
        call.send(send, (), {})
    assert current_call() is None
    assert call.error_type == "TimeoutError"
    assert tally.failed_calls == 1
    assert sink.ended == [call]


def test_send_with_a_span_makes_it_current_while_the_function_runs(span_exporter: object) -> None:
    from opentelemetry import trace

    call = start_call("openai", "chat", "gpt-4o-mini")
    assert call.span is not None
    inside = call.send(lambda: trace.get_current_span(), (), {})
    assert inside is call.span
    assert trace.get_current_span() is not call.span
    call.record_usage(input_tokens=1, output_tokens=2)
    call.finish()
    spans = span_exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert [s.name for s in spans] == ["chat gpt-4o-mini"]
    assert spans[0].attributes["gen_ai.usage.output_tokens"] == 2


def test_send_with_a_span_that_fails_detaches_it_and_records_the_error(span_exporter: object) -> None:
    from opentelemetry import trace

    call = start_call("openai", "chat", "gpt-4o-mini")
    outer = trace.get_current_span()

    def send() -> None:
        assert trace.get_current_span() is call.span
        raise ConnectionError("reset by peer")

    with pytest.raises(ConnectionError, match="reset by peer"):
        call.send(send, (), {})
    assert trace.get_current_span() is outer
    assert current_call() is None
    spans = span_exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert [(s.name, s.attributes["error.type"]) for s in spans] == [("chat gpt-4o-mini", "ConnectionError")]


def test_asend_awaits_the_function_with_the_call_in_flight_and_ends_nothing(sink: RecordingSink) -> None:
    call = start_call("synapsekit", "chat", "m")
    seen: list[object] = []

    async def send(a: int, *, b: int) -> int:
        seen.append(current_call())
        await asyncio.sleep(0)  # suspended once: the call stays in flight across the await
        seen.append(current_call())
        return a + b

    async def main() -> int:
        result = await call.asend(send, (2,), {"b": 3})
        assert current_call() is None
        return result

    assert asyncio.run(main()) == 5
    assert seen == [call, call]
    assert not call.ended
    call.finish()
    assert sink.ended == [call]


@pytest.mark.parametrize("error", [TimeoutError("provider timed out"), asyncio.CancelledError()])
def test_asend_fails_the_call_resets_the_context_and_reraises(
    sink: RecordingSink, error: BaseException
) -> None:
    tally = Tally()
    with tally:
        call = start_call("synapsekit", "chat", "m")

    async def send() -> None:
        assert current_call() is call
        raise error

    async def main() -> None:
        with pytest.raises(type(error)):
            await call.asend(send, (), {})
        assert current_call() is None

    asyncio.run(main())
    assert call.error_type == type(error).__qualname__
    assert tally.failed_calls == 1
    assert sink.ended == [call]


def test_asend_with_a_span_makes_it_current_only_while_the_request_runs(span_exporter: object) -> None:
    from opentelemetry import trace

    call = start_call("openai", "chat", "gpt-4o-mini")

    async def send() -> object:
        await asyncio.sleep(0)
        return trace.get_current_span()

    async def main() -> object:
        inside = await call.asend(send, (), {})
        assert trace.get_current_span() is not call.span
        return inside

    assert asyncio.run(main()) is call.span
    call.finish()
    assert [s.name for s in span_exporter.get_finished_spans()] == ["chat gpt-4o-mini"]  # type: ignore[attr-defined]

"""An LLM span's closing attributes written straight into an SDK span store exactly what set_attributes would.

Each case builds two spans from the same provider, gives one the attributes through
``set_span_attributes`` and the other through the public ``set_attributes``, and compares what an exporter
receives: the attributes in order, and the dropped count. Whether the direct write was taken is asserted by
making the public method fail on the span under test.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider, _Span
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext

from synapsekit._core.span_attributes import set_new_span_attributes, set_span_attributes

START: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "server.port": 443,
}
CLOSING: dict[str, Any] = {
    "gen_ai.request.max_tokens": 256,
    "synapsekit.streamed": True,
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "chatcmpl-1",
    "gen_ai.response.finish_reasons": ("stop", "length"),
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 7,
    "gen_ai.usage.cost": 0.0000063,
    "synapsekit.budget.name": "daily",
}


class Recorder:
    def __init__(self, limits: SpanLimits | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(span_limits=limits or SpanLimits())
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    def span(self, attributes: dict[str, Any] | None = None) -> Any:
        return self.tracer.start_span(
            "chat gpt-4o-mini", attributes=START if attributes is None else attributes
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.provider.shutdown()


def exported(span: ReadableSpan) -> tuple[list[tuple[str, Any]], int]:
    return list((span.attributes or {}).items()), span.dropped_attributes


def written(
    recorder: Recorder, attributes: dict[str, Any], *, start: dict[str, Any] | None = None, direct: bool
) -> tuple[list[tuple[str, Any]], int]:
    """Set ``attributes`` on a fresh span through set_span_attributes; ``direct``: the public method must not run."""
    span = recorder.span(start)
    calls: list[object] = []
    original = _Span.set_attributes

    def public(self: Any, values: Any) -> None:
        calls.append(values)
        original(self, values)

    _Span.set_attributes = public  # type: ignore[method-assign,assignment]
    try:
        set_span_attributes(span, attributes)
    finally:
        _Span.set_attributes = original  # type: ignore[method-assign]
    assert calls == ([] if direct else [attributes])
    span.end()
    return exported(recorder.finished()[-1])


def public(recorder: Recorder, attributes: dict[str, Any], *, start: dict[str, Any] | None = None) -> Any:
    span = recorder.span(start)
    span.set_attributes(attributes)
    span.end()
    return exported(recorder.finished()[-1])


def test_the_closing_attributes_are_written_directly_and_export_as_set_attributes_would(
    recorder: Recorder,
) -> None:
    expected = public(recorder, CLOSING)
    assert written(recorder, CLOSING, direct=True) == expected
    assert expected == ([*START.items(), *CLOSING.items()], 0)


def test_a_key_already_set_takes_the_public_path_which_moves_it_last(recorder: Recorder) -> None:
    attributes = {"gen_ai.operation.name": "embeddings", "gen_ai.usage.input_tokens": 3}
    expected = public(recorder, attributes)
    assert written(recorder, attributes, direct=False) == expected
    assert [key for key, _ in expected[0]] == [
        "gen_ai.provider.name",
        "server.port",
        "gen_ai.operation.name",
        "gen_ai.usage.input_tokens",
    ]


def test_past_the_attribute_limit_the_oldest_are_evicted_and_counted_as_public() -> None:
    recorder = Recorder(SpanLimits(max_span_attributes=5))
    try:
        expected = public(recorder, CLOSING)
        assert written(recorder, CLOSING, direct=False) == expected
        assert expected[1] == len(START) + len(CLOSING) - 5
        assert [key for key, _ in expected[0]] == list(CLOSING)[-5:]
        # Exactly at the limit the write is still direct.
        fits = dict(list(CLOSING.items())[:2])
        assert written(recorder, fits, direct=True) == public(recorder, fits)
    finally:
        recorder.provider.shutdown()


def test_a_value_length_limit_truncates_through_the_public_path() -> None:
    recorder = Recorder(SpanLimits(max_attribute_length=6))
    try:
        expected = public(recorder, CLOSING)
        assert written(recorder, CLOSING, direct=False) == expected
        attributes = dict(expected[0])
        assert attributes["gen_ai.response.model"] == "gpt-4o"
        assert attributes["gen_ai.response.finish_reasons"] == ("stop", "length")
    finally:
        recorder.provider.shutdown()


@pytest.mark.parametrize(
    "value",
    [["stop"], ("stop", 1), {"nested": 1}, b"raw", None, object()],
    ids=["list", "mixed-tuple", "mapping", "bytes", "none", "object"],
)
def test_values_the_sdk_would_clean_take_the_public_path(recorder: Recorder, value: Any) -> None:
    attributes = {"gen_ai.usage.input_tokens": 1, "synapsekit.odd": value}
    expected = public(recorder, attributes)
    got = written(recorder, attributes, direct=False)
    if type(value) is object:
        # str(object()) differs per instance: compare the shape only.
        assert [key for key, _ in got[0]] == [key for key, _ in expected[0]]
        assert got[1] == expected[1]
    else:
        assert got == expected


def test_an_ended_span_is_left_unchanged_with_the_sdk_warning(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    span = recorder.span()
    span.end()
    with caplog.at_level(logging.WARNING, logger="opentelemetry.sdk.trace"):
        set_span_attributes(span, CLOSING)
    assert "Setting attribute on ended span." in caplog.text
    assert exported(recorder.finished()[-1]) == (list(START.items()), 0)


def test_spans_that_are_not_the_sdks_own_take_set_attributes() -> None:
    class OwnSpan:
        def __init__(self) -> None:
            self.received: list[dict[str, Any]] = []

        def set_attributes(self, attributes: dict[str, Any]) -> None:
            self.received.append(dict(attributes))

    own = OwnSpan()
    set_span_attributes(own, CLOSING)
    assert own.received == [CLOSING]
    # The API's non-recording span (sampled out) accepts and ignores them.
    set_span_attributes(NonRecordingSpan(SpanContext(1, 2, False)), CLOSING)


def test_a_subclass_of_the_sdk_span_keeps_its_own_set_attributes(recorder: Recorder) -> None:
    seen: list[dict[str, Any]] = []

    class Subclass(_Span):
        def set_attributes(self, attributes: Any) -> None:
            seen.append(dict(attributes))
            super().set_attributes(attributes)

    span = recorder.span()
    span.__class__ = Subclass
    set_span_attributes(span, CLOSING)
    assert seen == [CLOSING]


def test_threads_writing_to_one_span_lose_nothing(recorder: Recorder) -> None:
    span = recorder.span({})
    barrier = threading.Barrier(8)

    def write(thread: int) -> None:
        barrier.wait()
        for index in range(12):
            set_span_attributes(span, {f"thread.{thread}.{index}": index})

    threads = [threading.Thread(target=write, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    span.end()
    attributes, dropped = exported(recorder.finished()[-1])
    assert dropped == 0
    assert dict(attributes) == {f"thread.{t}.{i}": i for t in range(8) for i in range(12)}


# -- a span start_span has just returned ---------------------------------------------------------------------
def started(
    recorder: Recorder, attributes: dict[str, Any], *, direct: bool
) -> tuple[list[tuple[str, Any]], int]:
    """``attributes`` written by set_new_span_attributes into a span started without any."""
    span = recorder.tracer.start_span("chat gpt-4o-mini")
    calls: list[object] = []
    original = _Span.set_attributes

    def public(self: Any, values: Any) -> None:
        calls.append(values)
        original(self, values)

    _Span.set_attributes = public  # type: ignore[method-assign,assignment]
    try:
        set_new_span_attributes(span, attributes)
    finally:
        _Span.set_attributes = original  # type: ignore[method-assign]
    assert calls == ([] if direct else [attributes])
    span.end()
    return exported(recorder.finished()[-1])


def started_with(recorder: Recorder, attributes: dict[str, Any]) -> tuple[list[tuple[str, Any]], int]:
    recorder.tracer.start_span("chat gpt-4o-mini", attributes=attributes).end()
    return exported(recorder.finished()[-1])


def test_a_new_spans_attributes_are_written_directly_as_start_span_would_store_them(
    recorder: Recorder,
) -> None:
    attributes = {**START, "gen_ai.request.model": "gpt-4o-mini", "app.ratio": 0.5, "app.flag": False}
    expected = started_with(recorder, attributes)
    assert started(recorder, attributes, direct=True) == expected
    assert expected == (list(attributes.items()), 0)


@pytest.mark.parametrize(
    "limits",
    [SpanLimits(max_span_attributes=2), SpanLimits(max_attribute_length=3)],
    ids=["attribute-count", "value-length"],
)
def test_a_new_span_with_limits_takes_the_public_path(limits: SpanLimits) -> None:
    recorder = Recorder(limits)
    try:
        expected = started_with(recorder, START)
        assert started(recorder, START, direct=False) == expected
        assert expected != (list(START.items()), 0)  # something was evicted or truncated
    finally:
        recorder.provider.shutdown()


def test_a_new_spans_odd_values_take_the_public_path(recorder: Recorder) -> None:
    attributes = {**START, "app.tags": ["a", "b"]}
    expected = started_with(recorder, attributes)
    assert started(recorder, attributes, direct=False) == expected
    assert dict(expected[0])["app.tags"] == ("a", "b")

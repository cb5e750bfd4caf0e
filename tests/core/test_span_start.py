"""A call's span starts with exactly the same attributes whether they go through ``start_span`` or are written
right after it.

They are written after it only when nothing can tell: the SDK's own tracer, one of its own samplers (which
decide without the attributes) and span processors whose ``on_start`` does nothing. Each case starts a call
on a provider of its own and compares the exported attributes, in order, with the expected ones; samplers
and processors that look at the span as it starts must see them there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_ON,
    Decision,
    ParentBased,
    ParentBasedTraceIdRatio,
    Sampler,
    SamplingResult,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from synapsekit._core import spans
from synapsekit._core.call import start_call

START_ATTRIBUTES: list[tuple[str, Any]] = [
    ("gen_ai.operation.name", "chat"),
    ("gen_ai.provider.name", "openai"),
    ("gen_ai.request.model", "gpt-4o-mini"),
    ("server.address", "api.openai.com"),
    ("server.port", 443),
    ("app.tenant", "acme"),
    ("app.retry", 2),
]


class Provider:
    def __init__(self, sampler: Sampler | None = None, *processors: SpanProcessor) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=sampler) if sampler is not None else TracerProvider()
        for processor in processors:
            self.provider.add_span_processor(processor)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    def start(self) -> Any:
        """A call's span as start_call starts it, with this provider's tracer."""
        call = start_call(
            "openai",
            "chat",
            "gpt-4o-mini",
            server_address="api.openai.com",
            server_port=443,
            attributes={"app.tenant": "acme", "app.retry": 2, "app.skipped": ["not", "a", "scalar"]},
        )
        return call.span

    def started(self) -> list[tuple[str, Any]]:
        span = self.start()
        span.end()
        finished = self.exporter.get_finished_spans()
        assert finished[-1].name == "chat gpt-4o-mini"
        assert finished[-1].kind is SpanKind.CLIENT
        return list((finished[-1].attributes or {}).items())


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Install a Provider as the one spans.start uses; the start state is forgotten before and after."""
    made: list[Provider] = []

    def install(provider: Provider) -> Provider:
        monkeypatch.setattr(spans, "active_tracer", lambda: provider.tracer)
        monkeypatch.setattr(spans, "_start_state", (None, None, None, False))
        made.append(provider)
        return provider

    yield install
    monkeypatch.setattr(spans, "_start_state", (None, None, None, False))
    for provider in made:
        provider.provider.shutdown()


class AttributeSampler(Sampler):
    """Samples by an attribute, as a user's sampler may: it must see the attributes at start_span."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        self.seen.append(dict(attributes or {}))
        return SamplingResult(Decision.RECORD_AND_SAMPLE, {**(attributes or {}), "sampler.note": "kept"})

    def get_description(self) -> str:
        return "AttributeSampler"


class LookingProcessor(SpanProcessor):
    """Reads the span's attributes as it starts and adds one of its own, as a user's processor may."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.append(dict(span.attributes or {}))
        span.set_attribute("processor.note", "seen")

    def on_end(self, span: ReadableSpan) -> None:
        pass


@pytest.mark.parametrize(
    "sampler",
    [
        None,
        ALWAYS_ON,
        DEFAULT_ON,
        TraceIdRatioBased(1.0),
        ParentBasedTraceIdRatio(1.0),
        ParentBased(ALWAYS_ON, remote_parent_sampled=TraceIdRatioBased(1.0)),
    ],
    ids=["default", "always-on", "parent-based", "ratio", "parent-based-ratio", "parent-based-mixed"],
)
def test_with_the_sdks_own_samplers_the_attributes_are_written_after_start_exactly(
    use: Any, sampler: Sampler | None
) -> None:
    provider = use(Provider(sampler))
    assert provider.started() == START_ATTRIBUTES
    assert spans._start_state[0] is provider.tracer
    assert spans._start_state[3] is True
    # Started again with the state remembered: the same.
    assert provider.started() == START_ATTRIBUTES


def test_the_batch_processor_also_starts_spans_quietly(use: Any) -> None:
    exporter = InMemorySpanExporter()
    provider = use(Provider(None, BatchSpanProcessor(exporter)))
    assert provider.started() == START_ATTRIBUTES
    assert spans._start_state[3] is True
    provider.provider.force_flush()
    assert list((exporter.get_finished_spans()[-1].attributes or {}).items()) == START_ATTRIBUTES


def test_a_sampler_that_may_read_attributes_gets_them_at_start_span(use: Any) -> None:
    sampler = AttributeSampler()
    provider = use(Provider(sampler))
    assert provider.started() == [*START_ATTRIBUTES, ("sampler.note", "kept")]
    assert sampler.seen == [dict(START_ATTRIBUTES)]
    assert spans._start_state[3] is False


def test_a_parent_based_sampler_delegating_to_an_unknown_one_gets_them_at_start_span(use: Any) -> None:
    sampler = AttributeSampler()
    provider = use(Provider(ParentBased(sampler)))
    assert provider.started() == [*START_ATTRIBUTES, ("sampler.note", "kept")]
    assert sampler.seen == [dict(START_ATTRIBUTES)]
    assert spans._start_state[3] is False


def test_a_subclass_of_an_sdk_sampler_gets_them_at_start_span(use: Any) -> None:
    class Noting(StaticSampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
            result = super().should_sample(*args, **kwargs)
            return SamplingResult(result.decision, {**result.attributes, "sampler.count": 1})

    provider = use(Provider(Noting(Decision.RECORD_AND_SAMPLE)))
    assert provider.started() == [*START_ATTRIBUTES, ("sampler.count", 1)]
    assert spans._start_state[3] is False


def test_a_processor_looking_at_the_starting_span_sees_them(use: Any) -> None:
    processor = LookingProcessor()
    provider = use(Provider(None, processor))
    assert provider.started() == [*START_ATTRIBUTES, ("processor.note", "seen")]
    assert processor.seen == [dict(START_ATTRIBUTES)]
    assert spans._start_state[3] is False


def test_a_processor_added_later_is_noticed(use: Any) -> None:
    provider = use(Provider())
    assert provider.started() == START_ATTRIBUTES
    assert spans._start_state[3] is True
    processor = LookingProcessor()
    provider.provider.add_span_processor(processor)
    assert provider.started() == [*START_ATTRIBUTES, ("processor.note", "seen")]
    assert processor.seen == [dict(START_ATTRIBUTES)]
    assert spans._start_state[3] is False


def test_a_sampler_replaced_on_the_tracer_is_noticed(use: Any) -> None:
    provider = use(Provider())
    assert provider.started() == START_ATTRIBUTES
    sampler = AttributeSampler()
    provider.tracer.sampler = sampler
    assert provider.started() == [*START_ATTRIBUTES, ("sampler.note", "kept")]
    assert sampler.seen == [dict(START_ATTRIBUTES)]


def test_a_dropped_span_records_nothing(use: Any) -> None:
    provider = use(Provider(ALWAYS_OFF))
    span = provider.start()
    assert not span.is_recording()
    span.end()
    assert provider.exporter.get_finished_spans() == ()

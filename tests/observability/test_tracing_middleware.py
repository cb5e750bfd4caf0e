"""TracingMiddleware spans, the Span view and the bounded span buffer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from synapsekit import (
    RAG,
    InMemoryVectorStore,
    OfflineLLM,
    RAGConfig,
    RAGPipeline,
    SynapsekitEmbeddings,
    traced,
)
from synapsekit.observability import Span, SpanBuffer, TracingMiddleware
from synapsekit.observability._span import span_from_otel


def _by_name(exporter: Any) -> dict[str, Any]:
    return {span.name: span for span in exporter.get_finished_spans()}


async def test_llm_generate_span_with_inputs_outputs_usage_and_child(span_exporter: Any) -> None:
    llm = TracingMiddleware(OfflineLLM(), max_input_length=10, max_output_length=15)
    answer = await llm.generate("What is SynapseKit, really?")
    spans = _by_name(span_exporter)
    parent, child = spans["llm.generate"], spans["chat synapsekit-offline"]
    assert child.parent.span_id == parent.context.span_id
    assert parent.attributes["synapsekit.input"] == "What is Sy"
    assert parent.attributes["synapsekit.output"] == answer[:15]
    assert parent.attributes["gen_ai.request.model"] == "synapsekit-offline"
    assert parent.attributes["gen_ai.provider.name"] == "synapsekit"
    assert parent.attributes["gen_ai.usage.input_tokens"] == 4
    assert parent.attributes["gen_ai.usage.output_tokens"] == 12
    assert parent.attributes["gen_ai.usage.cost"] == pytest.approx(4 * 0.15e-6 + 12 * 0.6e-6)
    assert child.kind.name == "CLIENT"


async def test_stream_span_and_recording_switched_off(span_exporter: Any) -> None:
    llm = TracingMiddleware(OfflineLLM(), record_inputs=False, record_outputs=False)
    chunks = [chunk async for chunk in llm.stream("a b c")]
    assert len(chunks) == 12
    span = _by_name(span_exporter)["llm.stream"]
    assert "synapsekit.input" not in span.attributes
    assert "synapsekit.output" not in span.attributes
    assert span.attributes["gen_ai.usage.output_tokens"] == 12


async def test_pipeline_methods_and_passthrough(span_exporter: Any) -> None:
    class Pipeline:
        version = "1.2"

        def __init__(self) -> None:
            self.llm = OfflineLLM()

        async def aadd(self, texts: list[str]) -> int:
            return len(texts)

        async def aquery(self, question: str) -> str:
            return await self.llm.generate(question)

        def describe(self) -> str:
            return "sync methods pass through"

    rag = TracingMiddleware(Pipeline())
    assert await rag.aadd(["one", "two"]) == 2
    await rag.aquery("What?")
    assert rag.version == "1.2"
    assert rag.describe() == "sync methods pass through"
    spans = _by_name(span_exporter)
    assert spans["rag.aadd"].attributes["synapsekit.input"] == "['one', 'two']"
    assert spans["rag.aadd"].attributes["synapsekit.output"] == "2"
    assert spans["chat synapsekit-offline"].parent.span_id == spans["rag.aquery"].context.span_id


async def test_span_tree_traced_pipeline_middleware_llm(span_exporter: Any) -> None:
    llm = TracingMiddleware(OfflineLLM())

    @traced(name="pipeline")
    async def pipeline(question: str) -> str:
        return await llm.generate(question)

    await pipeline("q")
    spans = _by_name(span_exporter)
    tree = {name: (span.parent.span_id if span.parent else None) for name, span in spans.items()}
    ids = {name: span.context.span_id for name, span in spans.items()}
    assert tree == {
        "pipeline": None,
        "llm.generate": ids["pipeline"],
        "chat synapsekit-offline": ids["llm.generate"],
    }


async def test_errors_are_recorded(span_exporter: Any) -> None:
    class Broken(OfflineLLM):
        async def _generate(self, prompt: str, **kwargs: Any) -> Any:
            raise ConnectionError("provider down")

        async def _stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[Any]:
            raise ConnectionError("provider down")
            yield  # pragma: no cover

    llm = TracingMiddleware(Broken())
    with pytest.raises(ConnectionError):
        await llm.generate("x")
    span = _by_name(span_exporter)["llm.generate"]
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "ConnectionError"


def test_span_status_is_ok_error_or_unset(span_exporter: Any) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    tracer = trace.get_tracer("test")
    succeeded = tracer.start_span("succeeded")
    succeeded.end()
    failed = tracer.start_span("failed")
    failed.set_status(Status(StatusCode.ERROR, "boom"))
    failed.end()
    running = tracer.start_span("running")
    try:
        still_running = span_from_otel(running)
    finally:
        running.end()
    by_name = {span.name: span_from_otel(span) for span in span_exporter.get_finished_spans()}
    assert (by_name["succeeded"].status, by_name["succeeded"].error) == ("ok", None)
    assert (by_name["failed"].status, by_name["failed"].error) == ("error", "boom")
    assert (still_running.status, still_running.end_time, still_running.duration_ms) == ("unset", None, None)


async def test_the_specs_rag_pipeline_names_what_tracing_middleware_wraps(span_exporter: Any) -> None:
    rag = RAG(RAGConfig(llm=OfflineLLM(), vector_store=InMemoryVectorStore(SynapsekitEmbeddings())))
    assert isinstance(rag, RAGPipeline)
    assert not isinstance(OfflineLLM(), RAGPipeline)
    component: RAGPipeline = rag
    traced_rag = TracingMiddleware(component)
    await traced_rag.aadd(["SynapseKit is an async-first Python library."])
    await traced_rag.aquery("What is SynapseKit?")
    assert [span.name for span in span_exporter.get_finished_spans()] == [
        "rag.aadd",
        "chat synapsekit-offline",
        "rag.aquery",
    ]


def test_invalid_lengths_rejected() -> None:
    with pytest.raises(ValueError, match="max_input_length"):
        TracingMiddleware(OfflineLLM(), max_input_length=-1)


async def test_span_buffer_converts_and_stays_bounded(span_exporter: Any) -> None:
    from opentelemetry import trace

    buffer = SpanBuffer(maxlen=3)
    seen: list[Span] = []
    buffer.add_listener(seen.append)
    provider = trace.get_tracer_provider()
    provider.add_span_processor(buffer)  # type: ignore[attr-defined]
    try:
        llm = TracingMiddleware(OfflineLLM())
        for _ in range(3):
            await llm.generate("a b")
    finally:
        buffer.remove_listener(seen.append)
    spans = buffer.spans()
    assert len(spans) == 3
    assert len(seen) >= 6
    generate = next(span for span in seen if span.name == "llm.generate")
    assert len(generate.span_id) == 16 and len(generate.trace_id) == 32
    assert generate.parent_span_id is None
    assert generate.status == "ok" and generate.error is None
    assert generate.duration_ms is not None and generate.duration_ms >= 0
    assert generate.attributes["gen_ai.usage.output_tokens"] == 12
    child = next(span for span in seen if span.name == "chat synapsekit-offline")
    assert child.parent_span_id is not None
    with pytest.raises(ValueError, match="maxlen"):
        SpanBuffer(0)
    with pytest.raises(TypeError) as raised:
        SpanBuffer("5")  # type: ignore[arg-type]
    assert str(raised.value) == "maxlen must be an int, got str '5'"


async def test_span_tree_traced_pipeline_middleware_instrumented_sdk(span_exporter: Any) -> None:
    import synapsekit
    from synapsekit import LLMConfig, OpenAILLM
    from synapsekit.testing import LLMTestServer

    with LLMTestServer() as server:
        synapsekit.instrument("openai")
        try:
            llm = TracingMiddleware(
                OpenAILLM(LLMConfig(model="gpt-4o-mini", api_key="sk-test", base_url=server.openai_base_url))
            )

            @traced(name="pipeline")
            async def pipeline(question: str) -> str:
                return await llm.generate(question)

            await pipeline("What is a span tree?")
        finally:
            synapsekit.uninstrument()
    spans = _by_name(span_exporter)
    assert set(spans) == {"pipeline", "llm.generate", "chat gpt-4o-mini"}
    ids = {name: span.context.span_id for name, span in spans.items()}
    parents = {name: (span.parent.span_id if span.parent else None) for name, span in spans.items()}
    assert parents == {
        "pipeline": None,
        "llm.generate": ids["pipeline"],
        "chat gpt-4o-mini": ids["llm.generate"],
    }
    chat = spans["chat gpt-4o-mini"]
    assert chat.kind.name == "CLIENT"
    assert {key: chat.attributes[key] for key in (
        "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "server.address",
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons",
    )} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "127.0.0.1",
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.response.finish_reasons": ("stop",),
    }  # fmt: skip
    # 5 input tokens at $0.15/M + 12 output tokens at $0.60/M.
    assert chat.attributes["gen_ai.usage.cost"] == pytest.approx(0.00000795, abs=1e-12)
    assert spans["llm.generate"].attributes["gen_ai.usage.cost"] == pytest.approx(0.00000795, abs=1e-12)

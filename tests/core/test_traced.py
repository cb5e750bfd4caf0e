"""@traced on every kind of function, with the spans it records."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from synapsekit import OfflineLLM, traced


@traced
def add(a: int, b: int) -> int:
    return a + b


@traced(name="pipeline.run", attributes={"stage": "demo"}, record_args=True, record_result=True)
async def pipeline(question: str) -> str:
    return await answer(question)


@traced
async def answer(question: str) -> str:
    return await OfflineLLM().generate(question)


@traced
def numbers(limit: int) -> Iterator[int]:
    yield from range(limit)


@traced
async def async_numbers(limit: int) -> AsyncIterator[int]:
    for number in range(limit):
        yield number


class Service:
    @traced
    def method(self) -> str:
        return "m"

    @classmethod
    @traced
    def factory(cls) -> str:
        return cls.__name__


@traced
def fails() -> None:
    raise ValueError("nope")


def _by_name(spans: Any) -> dict[str, Any]:
    return {span.name: span for span in spans}


def test_no_sdk_means_plain_calls() -> None:
    assert add(2, 3) == 5
    assert list(numbers(3)) == [0, 1, 2]
    assert add.__name__ == "add"


async def test_nested_spans_and_llm_call_child(span_exporter: Any) -> None:
    result = await pipeline("What is RAG?")
    assert result.split()[0]
    spans = _by_name(span_exporter.get_finished_spans())
    assert set(spans) == {"pipeline.run", "answer", "chat synapsekit-offline"}
    root, middle, llm = spans["pipeline.run"], spans["answer"], spans["chat synapsekit-offline"]
    assert root.parent is None
    assert middle.parent.span_id == root.context.span_id
    assert llm.parent.span_id == middle.context.span_id
    assert root.attributes["stage"] == "demo"
    assert root.attributes["synapsekit.function.arguments"] == "{'args': ('What is RAG?',), 'kwargs': {}}"
    assert root.attributes["synapsekit.function.result"] == repr(result)
    assert "synapsekit.function.arguments" not in middle.attributes
    assert llm.attributes["gen_ai.usage.input_tokens"] == 3
    assert llm.attributes["gen_ai.usage.output_tokens"] == 12
    assert llm.attributes["gen_ai.provider.name"] == "synapsekit"


def test_methods_classmethods_and_exceptions(span_exporter: Any) -> None:
    assert Service().method() == "m"
    assert Service.factory() == "Service"
    with pytest.raises(ValueError, match="nope"):
        fails()
    spans = _by_name(span_exporter.get_finished_spans())
    assert {"Service.method", "Service.factory", "fails"} <= set(spans)
    failed = spans["fails"]
    assert failed.status.status_code.name == "ERROR"
    assert failed.attributes["error.type"] == "ValueError"
    assert [event.name for event in failed.events] == ["exception"]


def test_generator_span_ends_on_exhaustion_close_and_gc(span_exporter: Any) -> None:
    assert list(numbers(3)) == [0, 1, 2]
    closed = numbers(5)
    next(closed)
    closed.close()
    collected = numbers(5)
    next(collected)
    del collected
    gc.collect()
    assert [span.name for span in span_exporter.get_finished_spans()] == ["numbers"] * 3


async def test_async_generator_span_and_children(span_exporter: Any) -> None:
    @traced
    async def stream_answer() -> AsyncIterator[str]:
        async for chunk in OfflineLLM().stream("a b"):
            yield chunk

    chunks = [chunk async for chunk in stream_answer()]
    assert len(chunks) == 12
    assert [n async for n in async_numbers(2)] == [0, 1]
    spans = _by_name(span_exporter.get_finished_spans())
    assert (
        spans["chat synapsekit-offline"].parent.span_id
        == spans["test_async_generator_span_and_children.<locals>.stream_answer"].context.span_id
    )
    assert "async_numbers" in spans

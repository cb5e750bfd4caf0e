"""OpenTelemetry's ``opentelemetry-instrumentation-openai-v2`` and synapsekit on one openai SDK, either order.

Theirs wraps the resource methods; ours the request pipeline beneath them: counts stay exact, the usage chunk
synapsekit asks for never reaches them or the caller, each instrumentation's ``uninstrument()`` removes only
its own patches, and every request has one synapsekit span (and one of theirs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai._base_client import SyncAPIClient
from openai.resources.chat.completions import Completions
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as TheirInstrumentor

import synapsekit
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import CallRecorder as RecordingSink

pytestmark = pytest.mark.usefixtures("uninstrument_after")

MODEL = "gpt-4o-mini"
MESSAGES: Any = [{"role": "user", "content": "one two three"}]
THEIR_SCOPE = "opentelemetry.instrumentation.openai_v2"


@pytest.fixture
def theirs() -> Iterator[TheirInstrumentor]:
    instrumentor = TheirInstrumentor()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def exchange(client: openai.OpenAI) -> list[Any]:
    """One plain request and one stream read to the end; the chunks the caller saw."""
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    return list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))


def their_spans(spans: Any) -> list[Any]:
    return [span for span in spans.get_finished_spans() if span.instrumentation_scope.name != "synapsekit"]


def our_spans(spans: Any) -> list[Any]:
    return [span for span in spans.get_finished_spans() if span.instrumentation_scope.name == "synapsekit"]


@pytest.mark.parametrize("order", ["theirs-first", "ours-first"])
def test_counts_chunks_and_spans_in_either_order(
    order: str, client: openai.OpenAI, sink: RecordingSink, theirs: TheirInstrumentor, span_exporter: Any
) -> None:
    bare_chunks = exchange(client)
    if order == "theirs-first":
        theirs.instrument()
        synapsekit.instrument("openai")
    else:
        synapsekit.instrument("openai")
        theirs.instrument()
    span_exporter.clear()
    chunks = exchange(client)
    # The caller sees what it saw with neither: no usage chunk it did not ask for.
    assert len(chunks) == len(bare_chunks) == 14
    assert all(chunk.choices for chunk in chunks)
    assert [(c.input_tokens, c.output_tokens, c.usage_estimated, c.streamed) for c in sink.ended] == [
        (3, 12, False, False),
        (3, 12, False, True),
    ]
    assert [span.name for span in our_spans(span_exporter)] == [f"chat {MODEL}"] * 2
    assert [span.attributes["gen_ai.usage.output_tokens"] for span in our_spans(span_exporter)] == [12, 12]
    assert len(their_spans(span_exporter)) == 2


@pytest.mark.parametrize("order", ["theirs-first", "ours-first"])
def test_their_uninstrument_keeps_ours_and_ours_keeps_theirs(
    order: str, client: openai.OpenAI, sink: RecordingSink, theirs: TheirInstrumentor, span_exporter: Any
) -> None:
    sdk_create = vars(Completions)["create"]
    if order == "theirs-first":
        theirs.instrument()
        synapsekit.instrument("openai")
    else:
        synapsekit.instrument("openai")
        theirs.instrument()
    assert vars(Completions)["create"] is not sdk_create
    theirs.uninstrument()
    assert is_synapsekit_wrapper(vars(SyncAPIClient)["request"])
    assert vars(Completions)["create"] is sdk_create  # theirs is gone, and only theirs
    span_exporter.clear()
    exchange(client)
    assert [(c.input_tokens, c.output_tokens) for c in sink.ended] == [(3, 12), (3, 12)]
    assert their_spans(span_exporter) == []

    theirs.instrument()
    synapsekit.uninstrument("openai")
    assert not is_synapsekit_wrapper(vars(SyncAPIClient)["request"])
    assert vars(Completions)["create"] is not sdk_create  # ours is gone, theirs stays
    span_exporter.clear()
    chunks = exchange(client)
    assert len(chunks) == 14
    assert len(sink.ended) == 2  # nothing more counted by us
    assert len(their_spans(span_exporter)) == 2  # theirs still records
    assert our_spans(span_exporter) == []


def test_callers_own_usage_chunk_reaches_them_and_the_caller(
    client: openai.OpenAI, sink: RecordingSink, theirs: TheirInstrumentor
) -> None:
    theirs.instrument()
    synapsekit.instrument("openai")
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len(chunks) == 15
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert (sink.only.output_tokens, sink.only.usage_estimated) == (12, False)


async def test_async_stream_under_theirs(
    async_client: openai.AsyncOpenAI, sink: RecordingSink, theirs: TheirInstrumentor
) -> None:
    synapsekit.instrument("openai")
    theirs.instrument()
    stream = await async_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == 14
    assert (sink.only.input_tokens, sink.only.output_tokens, sink.only.usage_estimated) == (3, 12, False)

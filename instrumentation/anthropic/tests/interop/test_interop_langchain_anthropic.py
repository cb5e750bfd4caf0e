"""langchain-anthropic's ``ChatAnthropic`` over the instrumented anthropic SDK: each request counted once.

``invoke`` sends ``messages.with_raw_response.create()``; ``stream``/``astream`` send
``messages.with_raw_response.create(stream=True)`` and then ``.parse()`` the events: the raw body is read as the
stream is, so the call ends with the stream — with the server's usage, one span, and the same chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer, completion_text

MODEL = "claude-haiku-4-5"


@pytest.fixture(autouse=True)
def _uninstrumented_after() -> Iterator[None]:
    yield
    synapsekit.uninstrument()


@pytest.fixture
def llm(server: LLMTestServer) -> ChatAnthropic:
    return ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL, base_url=server.anthropic_base_url, api_key="k", max_retries=0, max_tokens=100
    )


def contents(chunks: list[Any]) -> list[Any]:
    return [(chunk.content, chunk.usage_metadata) for chunk in chunks]


def assert_exact(calls: list[Any], *, streamed: list[bool]) -> None:
    assert [(c.provider, c.request_model, c.response_model) for c in calls] == [
        ("anthropic", MODEL, MODEL) for _ in streamed
    ]
    assert [
        (c.input_tokens, c.output_tokens, c.usage_estimated, c.error_type, c.streamed) for c in calls
    ] == [(3, 12, False, None, flag) for flag in streamed]
    assert [c.chunks for c in calls] == [12 if flag else 0 for flag in streamed]


def test_invoke_and_stream_are_counted_once(llm: ChatAnthropic, sink: CallRecorder) -> None:
    bare = contents(list(llm.stream("one two three")))
    synapsekit.instrument("anthropic")
    message = llm.invoke("one two three")
    assert message.content == completion_text(12)
    chunks = contents(list(llm.stream("one two three")))
    assert chunks == bare
    assert_exact(sink.ended, streamed=[False, True])


async def test_ainvoke_and_astream_are_counted_once(llm: ChatAnthropic, sink: CallRecorder) -> None:
    synapsekit.instrument("anthropic")
    await llm.ainvoke("one two three")
    chunks = [chunk async for chunk in llm.astream("one two three")]
    assert "".join(str(chunk.content) for chunk in chunks) == completion_text(12)
    assert_exact(sink.ended, streamed=[False, True])


def test_one_span_per_request(llm: ChatAnthropic, sink: CallRecorder, span_exporter: Any) -> None:
    synapsekit.instrument("anthropic")
    llm.invoke("one two three")
    list(llm.stream("one two three"))
    spans = span_exporter.get_finished_spans()
    # anthropic >= 1.17 traces its own calls: synapsekit's usage is on that span rather than a second one.
    assert len(spans) == 2
    assert [span.attributes["gen_ai.usage.output_tokens"] for span in spans] == [12, 12]
    assert [span.attributes["gen_ai.usage.input_tokens"] for span in spans] == [3, 3]
    assert len(sink.ended) == 2


def test_a_too_small_budget_refuses_with_no_request_sent(
    llm: ChatAnthropic, server: LLMTestServer, sink: CallRecorder
) -> None:
    synapsekit.instrument("anthropic")
    with synapsekit.budget(max_tokens=1), pytest.raises(BudgetExceeded):
        llm.invoke("one two three")
    with synapsekit.budget(max_tokens=1), pytest.raises(BudgetExceeded):
        list(llm.stream("one two three"))
    assert server.request_count == 0
    assert [call.rejected for call in sink.ended] == [True, True]

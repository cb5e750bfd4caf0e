"""langchain-openai's ``ChatOpenAI`` over the instrumented openai SDK: invoke, stream and astream counted once.

``invoke`` goes through ``with_raw_response`` (for the response headers) and streams through
``chat.completions.create(stream=True)`` with ``stream_options.include_usage`` of its own: synapsekit reads
the raw body, and leaves the usage chunk the caller asked for where it is.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_openai import ChatOpenAI

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer, completion_text

pytestmark = pytest.mark.usefixtures("uninstrument_after")

MODEL = "gpt-4o-mini"


@pytest.fixture
def llm(own_server: LLMTestServer) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=own_server.openai_base_url, api_key="k", max_retries=0)  # type: ignore[arg-type]


def texts(chunks: list[Any]) -> list[Any]:
    return [(chunk.content, chunk.usage_metadata) for chunk in chunks]


def assert_exact(calls: list[Any], *, streamed: list[bool]) -> None:
    assert [(c.input_tokens, c.output_tokens, c.usage_estimated, c.streamed) for c in calls] == [
        (3, 12, False, flag) for flag in streamed
    ]


def test_invoke_stream_and_astream_are_counted(llm: ChatOpenAI, sink: CallRecorder) -> None:
    bare = texts(list(llm.stream("one two three")))
    synapsekit.instrument("openai")
    message = llm.invoke("one two three")
    assert message.content == completion_text(12)
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] == 12
    chunks = texts(list(llm.stream("one two three")))
    assert chunks == bare  # including its own usage chunk, which it asked for
    assert_exact(sink.ended, streamed=[False, True])


async def test_ainvoke_and_astream_are_counted(llm: ChatOpenAI, sink: CallRecorder) -> None:
    synapsekit.instrument("openai")
    await llm.ainvoke("one two three")
    chunks = [chunk async for chunk in llm.astream("one two three")]
    assert "".join(str(chunk.content) for chunk in chunks) == completion_text(12)
    assert_exact(sink.ended, streamed=[False, True])


def test_a_too_small_budget_refuses_with_no_request_sent(
    llm: ChatOpenAI, own_server: LLMTestServer, sink: CallRecorder
) -> None:
    synapsekit.instrument("openai")
    with synapsekit.budget(max_tokens=1), pytest.raises(BudgetExceeded):
        llm.invoke("one two three")
    with synapsekit.budget(max_tokens=1), pytest.raises(BudgetExceeded):
        list(llm.stream("one two three"))
    assert own_server.request_count == 0
    assert [call.rejected for call in sink.ended] == [True, True]

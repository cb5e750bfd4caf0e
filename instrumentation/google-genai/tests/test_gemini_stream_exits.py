"""Every way a stream ends finalises its call exactly once; what is missing is estimated and marked.

The caller holds the SDK's own generator; the instrumented stream is the one the SDK iterates inside it, so
the caller's ``break``, ``close()`` and dropping the generator all reach it through the SDK's own code.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _gemini_testkit import MODEL, PROMPT, WORDS, config, flash_cost
from google import genai

from synapsekit.testing import CallRecorder, LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

DROP_AFTER_3 = config({"x-test-drop-after": "3"})


def assert_cut_short(sink: CallRecorder, *, output_tokens: int, error_type: str | None = None) -> None:
    collect_garbage()
    [call] = sink.ended
    # The first chunk reported the input count: exact. The output is estimated from the text received.
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, output_tokens, True)
    assert call.error_type == error_type
    assert call.cost == flash_cost(4, output_tokens)


def stream(client: genai.Client, **kwargs: Any) -> Any:
    return client.models.generate_content_stream(model=MODEL, contents=PROMPT, **kwargs)


async def closed_by_the_loop(sink: CallRecorder) -> None:
    """The SDK drops (does not close) its inner async generators: the event loop's finaliser closes them
    one after the other, in later iterations of the loop; wait for it (at most 5 s)."""
    for _ in range(500):
        if sink.ended:
            return
        await asyncio.sleep(0.01)


# "Hello" is 5 characters → 2 tokens at 4 characters per token; "Hello from the" is 14 → 4.
def test_break_then_close(any_client: genai.Client, sink: CallRecorder) -> None:
    chunks = stream(any_client)
    for chunk in chunks:
        assert chunk.text == "Hello"
        break
    chunks.close()
    chunks.close()
    assert_cut_short(sink, output_tokens=2)


def test_break_and_drop(client: genai.Client, sink: CallRecorder) -> None:
    for chunk in stream(client):
        assert chunk.text == "Hello"
        break
    assert_cut_short(sink, output_tokens=2)


def test_garbage_collected(client: genai.Client, sink: CallRecorder) -> None:
    chunks = stream(client)
    assert [next(chunks).text, next(chunks).text] == ["Hello", " from"]
    assert sink.ended == []
    del chunks
    assert_cut_short(sink, output_tokens=3)


def test_exhausted_exactly_once(client: genai.Client, sink: CallRecorder) -> None:
    chunks = stream(client)
    assert [chunk.text for chunk in chunks][:-1] == [w if i == 0 else f" {w}" for i, w in enumerate(WORDS)]
    assert list(chunks) == []
    chunks.close()
    collect_garbage()
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, 12, False)


def test_an_unread_stream_sends_nothing(
    client: genai.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    chunks = stream(client)
    del chunks
    collect_garbage()
    assert (server.request_count, sink.ended) == (0, [])


def test_dropped_connection_raises_the_transport_error_unchanged(
    any_client: genai.Client, sink: CallRecorder
) -> None:
    received: list[str] = []
    with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever the SDK's HTTP library raises
        received.extend(chunk.text or "" for chunk in stream(any_client, config=DROP_AFTER_3))
    assert received == ["Hello", " from", " the"]
    assert_cut_short(sink, output_tokens=4, error_type=type(caught.value).__qualname__)


async def test_async_break_then_aclose(any_client: genai.Client, sink: CallRecorder) -> None:
    chunks = await any_client.aio.models.generate_content_stream(model=MODEL, contents=PROMPT)
    async for chunk in chunks:
        assert chunk.text == "Hello"
        break
    await chunks.aclose()
    await closed_by_the_loop(sink)
    assert_cut_short(sink, output_tokens=2)


async def test_async_closed_from_another_task(client: genai.Client, sink: CallRecorder) -> None:
    chunks = await client.aio.models.generate_content_stream(model=MODEL, contents=PROMPT)
    assert (await anext(chunks)).text == "Hello"
    assert (await anext(chunks)).text == " from"
    await asyncio.create_task(chunks.aclose())
    await closed_by_the_loop(sink)
    assert_cut_short(sink, output_tokens=3)


async def test_async_dropped_connection(client: genai.Client, sink: CallRecorder) -> None:
    chunks = await client.aio.models.generate_content_stream(
        model=MODEL, contents=PROMPT, config=DROP_AFTER_3
    )
    received: list[str] = []
    with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever the SDK's HTTP library raises
        await drain(chunks, received)
    assert received == ["Hello", " from", " the"]
    assert_cut_short(sink, output_tokens=4, error_type=type(caught.value).__qualname__)


async def drain(chunks: Any, into: list[str]) -> None:
    async for chunk in chunks:
        into.append(chunk.text or "")

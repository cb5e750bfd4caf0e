"""A stream's call ends exactly once on every exit path, with partial usage marked estimated."""

from __future__ import annotations

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from conftest import RecordingSink, dropped_stream_error
from synapsekit.testing import collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three four"}]


def _chat_stream(client: openai.OpenAI, **headers: str) -> openai.Stream[object]:
    return client.chat.completions.create(  # type: ignore[return-value]
        model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers=headers or None
    )


def _assert_abandoned_after_three_words(sink: RecordingSink) -> None:
    ended = sink.only
    assert ended.usage_estimated is True
    # Role chunk, "Hello", " from", " the": 14 characters → 4 tokens; the prompt's 18 characters → 5.
    assert (ended.output_tokens, ended.input_tokens) == (4, 5)
    assert ended.error_type is None


def test_exhaustion_finalises_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    stream = _chat_stream(client)
    list(stream)
    list(stream)
    stream.close()
    del stream
    collect_garbage()
    assert sink.only.usage_estimated is False


def test_break_then_close_finalises_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    stream = _chat_stream(client)
    for index, _chunk in enumerate(stream):
        if index == 3:
            break
    assert sink.ended == []
    stream.close()
    stream.close()
    del stream
    collect_garbage()
    _assert_abandoned_after_three_words(sink)


def test_context_manager_exit_finalises_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    with _chat_stream(client) as stream:
        for index, _chunk in enumerate(stream):
            if index == 3:
                break
    assert len(sink.ended) == 1
    del stream
    collect_garbage()
    _assert_abandoned_after_three_words(sink)


def test_exception_in_caller_inside_context_manager_fails_the_call(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    def consume_then_fail() -> None:
        with _chat_stream(client) as stream:
            next(iter(stream))
            raise KeyError("caller bug")

    with pytest.raises(KeyError):
        consume_then_fail()
    assert sink.only.error_type == "KeyError"


def test_garbage_collection_finalises_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    stream = _chat_stream(client)
    iterator = iter(stream)
    for _ in range(4):
        next(iterator)
    del stream, iterator
    collect_garbage()
    _assert_abandoned_after_three_words(sink)


def test_dropped_connection_mid_stream_fails_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    stream = _chat_stream(client, **{"x-test-drop-after": "3"})
    received: list[object] = []
    with pytest.raises(dropped_stream_error()) as raised:
        received.extend(stream)
    assert len(received) == 4  # the role chunk and three words
    stream.close()
    del stream
    collect_garbage()
    call = sink.only
    assert call.error is raised.value
    assert call.error_type == type(raised.value).__qualname__
    assert call.chunks == 4
    assert type(raised.value) is dropped_stream_error()
    # The provider bills what it generated before the line dropped: estimated from the text received.
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (5, 4, True)


async def test_async_break_then_close_finalises_once(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    index = 0
    async for _chunk in stream:
        if index == 3:
            break
        index += 1
    assert sink.ended == []
    await stream.close()
    await stream.close()
    _assert_abandoned_after_three_words(sink)


async def test_async_context_manager_exit_finalises_once(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    async with stream:
        async for _chunk in stream:
            pass
    assert sink.only.usage_estimated is False
    assert sink.only.output_tokens == 12


async def test_async_dropped_connection_fails_once(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    stream = await async_client.responses.create(
        model="gpt-4.1-mini", input="one two", stream=True, extra_headers={"x-test-drop-after": "2"}
    )
    with pytest.raises(dropped_stream_error()):
        async for _event in stream:
            pass
    await stream.close()
    assert sink.only.error_type is not None
    assert sink.only.chunks == 2


async def test_async_garbage_collection_finalises_once(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    iterator = stream.__aiter__()
    for _ in range(4):
        await iterator.__anext__()
    await stream.response.aclose()
    del stream, iterator
    collect_garbage()
    _assert_abandoned_after_three_words(sink)

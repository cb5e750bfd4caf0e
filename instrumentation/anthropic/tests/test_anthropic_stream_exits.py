"""Every way a stream ends finalises its call exactly once, with what is missing estimated and marked."""

from __future__ import annotations

import asyncio

import anthropic
import httpx2
import pytest
from _anthropic_testkit import CACHE_HEADERS, RecordingSink, request

from synapsekit.testing import collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

DROP_AFTER_3 = {"x-test-drop-after": "3"}


def assert_cut_short(sink: RecordingSink, *, output_tokens: int, error_type: str | None = None) -> None:
    collect_garbage()
    [call] = sink.ended
    # message_start arrived: the input side is exact, the output is estimated from the text received.
    assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (7, 3, 2)
    assert (call.output_tokens, call.usage_estimated, call.error_type) == (output_tokens, True, error_type)
    assert call.cost is not None


# "Hello" is 5 characters → 2 tokens at 4 characters per token; "Hello from the" is 14 → 4.
def test_break_then_close(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    events = client.messages.create(stream=True, **request())
    for event in events:
        if event.type == "content_block_delta":
            break
    assert sink.ended == []
    events.close()
    assert events.response.is_closed
    events.close()
    assert_cut_short(sink, output_tokens=2)


def test_context_manager_exit(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    with client.messages.create(stream=True, **request()) as events:
        for event in events:
            if event.type == "content_block_delta":
                break
    assert_cut_short(sink, output_tokens=2)


def test_garbage_collected(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    events = client.messages.create(stream=True, **request())
    assert [next(events).type, next(events).type, next(events).type] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]
    del events
    assert_cut_short(sink, output_tokens=2)


def test_stream_manager_left_early(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    with client.messages.stream(**request()) as stream:
        for text in stream.text_stream:
            assert text == "Hello"
            break
    assert_cut_short(sink, output_tokens=2)


def test_stream_manager_garbage_collected(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    manager = client.messages.stream(**request())
    stream = manager.__enter__()
    assert next(stream.text_stream) == "Hello"
    del stream, manager
    assert_cut_short(sink, output_tokens=2)


def test_dropped_stream_raises_the_transport_error_unchanged(
    client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    events = client.messages.create(stream=True, **request(extra_headers={**CACHE_HEADERS, **DROP_AFTER_3}))
    texts: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        texts.extend(event.delta.text for event in events if event.type == "content_block_delta")
    assert "".join(texts) == "Hello from the"
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")


def test_dropped_stream_manager(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    headers = {**CACHE_HEADERS, **DROP_AFTER_3}
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        client.messages.stream(**request(extra_headers=headers)) as stream,
    ):
        stream.until_done()
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")


def test_plain_request_hung_up_on_is_not_billed(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(**request(extra_headers=DROP_AFTER_3))
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (0, 0, False)
    assert call.error_type == "APIConnectionError"


async def test_async_break_then_close(async_client: anthropic.AsyncAnthropic, sink: RecordingSink) -> None:
    events = await async_client.messages.create(stream=True, **request())
    async for event in events:
        if event.type == "content_block_delta":
            break
    await events.close()
    await events.close()
    assert_cut_short(sink, output_tokens=2)


async def test_async_context_manager_exit(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    async with await async_client.messages.create(stream=True, **request()) as events:
        async for event in events:
            if event.type == "content_block_delta":
                break
    assert_cut_short(sink, output_tokens=2)


async def test_async_stream_manager_left_early(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    async with async_client.messages.stream(**request()) as stream:
        async for text in stream.text_stream:
            assert text == "Hello"
            break
    assert_cut_short(sink, output_tokens=2)


async def test_async_closed_from_another_task(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    events = await async_client.messages.create(stream=True, **request())
    assert (await events.__anext__()).type == "message_start"
    assert (await events.__anext__()).type == "content_block_start"
    assert (await events.__anext__()).type == "content_block_delta"
    await asyncio.create_task(events.close())
    assert_cut_short(sink, output_tokens=2)


async def test_async_dropped_stream_manager(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    headers = {**CACHE_HEADERS, **DROP_AFTER_3}
    with pytest.raises(httpx2.RemoteProtocolError):
        async with async_client.messages.stream(**request(extra_headers=headers)) as stream:
            await stream.until_done()
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")


async def test_async_dropped_stream(async_client: anthropic.AsyncAnthropic, sink: RecordingSink) -> None:
    headers = {**CACHE_HEADERS, **DROP_AFTER_3}
    events = await async_client.messages.create(stream=True, **request(extra_headers=headers))
    with pytest.raises(httpx2.RemoteProtocolError):
        async for _ in events:
            pass
    assert_cut_short(sink, output_tokens=4, error_type="RemoteProtocolError")

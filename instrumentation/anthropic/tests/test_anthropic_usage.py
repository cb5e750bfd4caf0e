"""Exact usage, with the prompt-cache fields, for every way of sending a message, sync and async."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import pytest
from _anthropic_testkit import MODEL, RecordingSink, request
from anthropic.lib.streaming import AsyncMessageStream, MessageStream

import synapsekit
from synapsekit.testing import LLMTestServer, completion_text

pytestmark = pytest.mark.usefixtures("instrumented")

MODES = ["create", "create_stream", "stream_manager"]
FULL_TEXT = completion_text(12)
# claude-haiku-4-5: $1/M input, $0.10/M cache read, $1.25/M cache write, $5/M output.
COST_7_IN_3_READ_2_WRITTEN_12_OUT = Decimal("0.0000648")


def send(client: anthropic.Anthropic, mode: str, **overrides: Any) -> str:
    if mode == "create":
        message = client.messages.create(**request(**overrides))
        return "".join(block.text for block in message.content if block.type == "text")
    if mode == "create_stream":
        events = client.messages.create(stream=True, **request(**overrides))
        assert isinstance(events, anthropic.Stream)
        return "".join(e.delta.text for e in events if e.type == "content_block_delta")
    with client.messages.stream(**request(**overrides)) as stream:
        assert isinstance(stream, MessageStream)
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        assert final.usage.output_tokens == len(text.split())
        return text


async def send_async(client: anthropic.AsyncAnthropic, mode: str, **overrides: Any) -> str:
    if mode == "create":
        message = await client.messages.create(**request(**overrides))
        return "".join(block.text for block in message.content if block.type == "text")
    if mode == "create_stream":
        events = await client.messages.create(stream=True, **request(**overrides))
        assert isinstance(events, anthropic.AsyncStream)
        return "".join([e.delta.text async for e in events if e.type == "content_block_delta"])
    async with client.messages.stream(**request(**overrides)) as stream:
        assert isinstance(stream, AsyncMessageStream)
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
        assert final.usage.output_tokens == len(text.split())
        return text


def assert_exact_call(sink: RecordingSink, server: LLMTestServer, mode: str) -> None:
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "anthropic",
        "chat",
        MODEL,
        MODEL,
    )
    # OTel convention: input = 2 uncached + 3 cache reads + 2 cache writes.
    assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (7, 3, 2)
    assert (call.output_tokens, call.reasoning_tokens, call.usage_estimated) == (12, 0, False)
    assert call.cost == COST_7_IN_3_READ_2_WRITTEN_12_OUT
    assert call.finish_reasons == ("end_turn",)
    assert call.response_id is not None
    assert call.response_id.startswith("msg_")
    assert (call.server_address, call.server_port, call.max_output_tokens) == ("127.0.0.1", server.port, 100)
    assert call.streamed is (mode != "create")
    assert call.chunks == (0 if mode == "create" else 12)
    assert call.error_type is None
    assert server.request_count == 1


@pytest.mark.parametrize("mode", MODES)
def test_sync_exact_usage(
    mode: str, client: anthropic.Anthropic, server: LLMTestServer, sink: RecordingSink
) -> None:
    assert send(client, mode) == FULL_TEXT
    assert_exact_call(sink, server, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_async_exact_usage(
    mode: str, async_client: anthropic.AsyncAnthropic, server: LLMTestServer, sink: RecordingSink
) -> None:
    assert await send_async(async_client, mode) == FULL_TEXT
    assert_exact_call(sink, server, mode)


@pytest.mark.parametrize("mode", MODES)
def test_final_output_count_comes_from_message_delta_and_is_not_added_to_the_start(
    mode: str, client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    # message_start reports output_tokens=1 (a placeholder), message_delta the cumulative 5: the call has 5.
    send(client, mode, extra_headers={"x-test-output-tokens": "5", "x-test-reasoning-tokens": "2"})
    [call] = sink.ended
    assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (7, 0, 0)
    assert (call.output_tokens, call.reasoning_tokens) == (5, 2)


@pytest.mark.parametrize("mode", MODES)
def test_max_tokens_cap_is_the_finish_reason(
    mode: str, client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    send(client, mode, max_tokens=4)
    [call] = sink.ended
    assert (call.output_tokens, call.finish_reasons, call.max_output_tokens) == (4, ("max_tokens",), 4)


def test_stream_events_reach_the_caller_unchanged(client: anthropic.Anthropic) -> None:
    events = client.messages.create(stream=True, **request(extra_headers={"x-test-output-tokens": "2"}))
    assert [event.type for event in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_stream_manager_helpers_keep_working(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    with client.messages.stream(**request()) as stream:
        assert stream.get_final_text() == FULL_TEXT
        assert stream.current_message_snapshot.usage.output_tokens == 12
        assert stream.request_id is not None
    with client.messages.stream(**request()) as stream:
        stream.until_done()
    with client.messages.stream(**request()) as stream:
        assert [event.type for event in stream][-1] == "message_stop"
    assert [(c.input_tokens, c.output_tokens, c.usage_estimated) for c in sink.ended] == [(7, 12, False)] * 3


async def test_async_stream_manager_helpers_keep_working(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    async with async_client.messages.stream(**request()) as stream:
        assert await stream.get_final_text() == FULL_TEXT
    async with async_client.messages.stream(**request()) as stream:
        await stream.until_done()
    assert [(c.input_tokens, c.output_tokens, c.usage_estimated) for c in sink.ended] == [(7, 12, False)] * 2


def test_parse_is_counted(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    parsed = client.messages.parse(**request())
    assert parsed.content[0].text == FULL_TEXT
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.streamed) == (7, 12, False)


async def test_async_parse_is_counted(async_client: anthropic.AsyncAnthropic, sink: RecordingSink) -> None:
    await async_client.messages.parse(**request())
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens) == (7, 12)


def test_raw_response_is_counted_from_its_body(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    raw = client.messages.with_raw_response.create(**request())
    assert raw.parse().usage.output_tokens == 12
    [call] = sink.ended
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.usage_estimated) == (
        7,
        3,
        12,
        False,
    )


async def test_async_raw_response_is_counted_from_its_body(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    raw = await async_client.messages.with_raw_response.create(**request())
    assert (await raw.parse()).usage.input_tokens == 2
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (7, 12, False)


def test_streaming_response_is_counted_when_its_body_is_read(
    client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    with client.messages.with_streaming_response.create(**request()) as response:
        assert sink.ended == []  # the body is the caller's to read: nothing is known yet
        assert response.parse().content[0].text == FULL_TEXT
        [call] = sink.ended
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.usage_estimated) == (
        7,
        3,
        12,
        False,
    )


def test_streaming_response_closed_unread_is_estimated(
    client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    with client.messages.with_streaming_response.create(**request()):
        assert sink.ended == []
    [call] = sink.ended
    assert call.usage_estimated
    # Estimated from the prompt: 33 characters, 4 per token.
    assert (call.input_tokens, call.output_tokens) == (9, 0)


def test_system_prompt_and_content_blocks_are_sent_and_counted(
    client: anthropic.Anthropic, sink: RecordingSink, server: LLMTestServer
) -> None:
    client.messages.create(
        **request(
            system=[{"type": "text", "text": "be brief"}],
            messages=[{"role": "user", "content": [{"type": "text", "text": "alpha beta"}]}],
            extra_headers={},
        )
    )
    [call] = sink.ended
    assert call.input_tokens == 4
    assert call.prompt_text == "be brief\nalpha beta"


def test_tracked_scope_adds_the_cache_fields(client: anthropic.Anthropic) -> None:
    with synapsekit.track() as tally:
        send(client, "create")
        send(client, "stream_manager")
    assert tally.tokens == {"input": 14, "output": 24, "total": 38}
    assert (tally.cached_input_tokens, tally.cache_creation_input_tokens, tally.calls) == (6, 4, 2)
    assert tally.cost_usd_decimal == 2 * COST_7_IN_3_READ_2_WRITTEN_12_OUT

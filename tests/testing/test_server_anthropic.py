"""The LLM test server against the real anthropic SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, TypeVar

import anthropic
import httpx2
import pytest

from synapsekit.testing import LLMTestServer

TWELVE_WORDS = "Hello from the synapsekit test server: every word here is one token."
WORDS = TWELVE_WORDS.split()
DELTAS = [word if i == 0 else f" {word}" for i, word in enumerate(WORDS)]
USER: list[Any] = [{"role": "user", "content": "How are you today"}]  # 4 words


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=server.anthropic_base_url, api_key="test", max_retries=0
    ) as sync_client:
        yield sync_client


@pytest.fixture
async def aclient(server: LLMTestServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=server.anthropic_base_url, api_key="test", max_retries=0
    ) as async_client:
        yield async_client


T = TypeVar("T")


def drain(items: Iterable[T], into: list[T]) -> None:
    """Collect items until the iterator ends or fails, keeping what arrived before a failure."""
    for item in items:
        into.append(item)


async def adrain(items: AsyncIterable[T], into: list[T]) -> None:
    async for item in items:
        into.append(item)


def _usage_numbers(usage: Any) -> tuple[int, int, int | None, int | None]:
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
    )


# -- plain messages --------------------------------------------------------------------------------------


def test_message_sync_exact_usage_and_text(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-test-sonnet", max_tokens=100, messages=USER)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "claude-test-sonnet"
    assert message.id.startswith("msg_")
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert len(message.content) == 1
    block = message.content[0]
    assert block.type == "text"
    assert block.text == TWELVE_WORDS
    assert _usage_numbers(message.usage) == (4, 12, 0, 0)
    assert message.usage.output_tokens_details is None


async def test_message_async_exact_usage_and_text(aclient: anthropic.AsyncAnthropic) -> None:
    message = await aclient.messages.create(model="claude-test-haiku", max_tokens=100, messages=USER)
    assert message.content[0].type == "text"
    assert message.content[0].text == TWELVE_WORDS
    assert _usage_numbers(message.usage) == (4, 12, 0, 0)


def test_max_tokens_caps_output_and_stops_with_max_tokens(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-x", max_tokens=5, messages=USER)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the synapsekit test"
    assert message.usage.output_tokens == 5


def test_counts_system_string_blocks_and_message_text_blocks(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model="claude-x",
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind, always."}],
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}],
            },
            {"role": "assistant", "content": "four five"},
            {"role": "user", "content": "six"},
        ],
    )
    assert message.usage.input_tokens == 11
    plain_system = client.messages.create(model="claude-x", max_tokens=100, system="You help.", messages=USER)
    assert plain_system.usage.input_tokens == 6


def test_input_tokens_exclude_cache_reads_and_writes() -> None:
    server = LLMTestServer(
        input_tokens=100,
        cached_tokens=80,
        cache_creation_tokens=15,
        reasoning_tokens=3,
        response_models={"claude-x": "claude-x-20250101"},
    )
    with (
        server,
        anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="test", max_retries=0) as client,
    ):
        message = client.messages.create(model="claude-x", max_tokens=100, messages=USER)
    assert message.model == "claude-x-20250101"
    assert _usage_numbers(message.usage) == (5, 12, 80, 15)
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_5m_input_tokens == 15
    assert message.usage.output_tokens_details is not None
    assert message.usage.output_tokens_details.thinking_tokens == 3


def test_cache_larger_than_input_is_capped_at_the_input(client: anthropic.Anthropic) -> None:
    # The prompt has 4 words: a cache read can cover all of them, never more.
    message = client.messages.create(
        model="claude-x", max_tokens=100, messages=USER, extra_headers={"x-test-cached-tokens": "10"}
    )
    assert _usage_numbers(message.usage) == (0, 12, 4, 0)


def test_per_request_header_overrides(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=USER,
        extra_headers={
            "x-test-input-tokens": "40",
            "x-test-output-tokens": "3",
            "x-test-cached-tokens": "30",
            "x-test-cache-creation-tokens": "4",
        },
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the"
    assert _usage_numbers(message.usage) == (6, 3, 30, 4)


# -- raw streams -----------------------------------------------------------------------------------------


STREAM_EVENT_TYPES = [
    "message_start",
    "content_block_start",
    *["content_block_delta"] * 12,
    "content_block_stop",
    "message_delta",
    "message_stop",
]


def _check_raw_events(events: list[Any], *, cached: int = 0) -> None:
    # The SDK skips the "ping" event the server sends after content_block_start, as with the real API.
    assert [event.type for event in events] == STREAM_EVENT_TYPES
    start = events[0].message
    assert start.content == []
    assert start.stop_reason is None
    assert _usage_numbers(start.usage) == (4 - cached, 1, cached, 0)
    assert events[1].content_block.type == "text"
    assert events[1].content_block.text == ""
    assert [event.delta.text for event in events[2:14]] == DELTAS
    assert all(event.delta.type == "text_delta" and event.index == 0 for event in events[2:14])
    delta = events[-2]
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == 12
    assert delta.usage.input_tokens == 4 - cached
    assert delta.usage.cache_read_input_tokens == cached


def test_raw_stream_sync(client: anthropic.Anthropic) -> None:
    with client.messages.create(model="claude-x", max_tokens=100, messages=USER, stream=True) as stream:
        events = list(stream)
    _check_raw_events(events)


async def test_raw_stream_async(aclient: anthropic.AsyncAnthropic) -> None:
    stream = await aclient.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=USER,
        stream=True,
        extra_headers={"x-test-cached-tokens": "1"},
    )
    events = [event async for event in stream]
    _check_raw_events(events, cached=1)


def test_raw_stream_capped_reports_max_tokens(client: anthropic.Anthropic) -> None:
    events: list[Any] = list(
        client.messages.create(
            model="claude-x",
            max_tokens=2,
            messages=USER,
            stream=True,
            extra_headers={"x-test-chunk-delay-ms": "1"},
        )
    )
    assert [event.delta.text for event in events if event.type == "content_block_delta"] == ["Hello", " from"]
    assert events[-2].delta.stop_reason == "max_tokens"
    assert events[-2].usage.output_tokens == 2


# -- stream manager helpers ------------------------------------------------------------------------------


def test_stream_helper_sync(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="claude-x", max_tokens=100, messages=USER) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == DELTAS
    assert final.content[0].type == "text"
    assert final.content[0].text == TWELVE_WORDS
    assert final.stop_reason == "end_turn"
    assert _usage_numbers(final.usage) == (4, 12, 0, 0)


async def test_stream_helper_async(aclient: anthropic.AsyncAnthropic) -> None:
    async with aclient.messages.stream(
        model="claude-x", max_tokens=100, messages=USER, extra_headers={"x-test-reasoning-tokens": "2"}
    ) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert texts == DELTAS
    assert _usage_numbers(final.usage) == (4, 12, 0, 0)
    assert final.usage.output_tokens_details is not None
    assert final.usage.output_tokens_details.thinking_tokens == 2


def test_stream_helper_get_final_text_without_iterating(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="claude-x", max_tokens=3, messages=USER) as stream:
        assert stream.get_final_text() == "Hello from the"
        assert stream.get_final_message().stop_reason == "max_tokens"


async def test_stream_helper_async_final_text(aclient: anthropic.AsyncAnthropic) -> None:
    async with aclient.messages.stream(model="claude-x", max_tokens=100, messages=USER) as stream:
        assert await stream.get_final_text() == TWELVE_WORDS


def test_stream_drop_after_raises_mid_stream(client: anthropic.Anthropic) -> None:
    texts: list[str] = []
    manager = client.messages.stream(
        model="claude-x", max_tokens=100, messages=USER, extra_headers={"x-test-drop-after": "4"}
    )
    with manager as stream, pytest.raises(httpx2.RemoteProtocolError):
        drain(stream.text_stream, texts)
    assert texts == DELTAS[:4]


async def test_stream_drop_after_raises_mid_stream_async(aclient: anthropic.AsyncAnthropic) -> None:
    events: list[Any] = []
    stream = await aclient.messages.create(
        model="claude-x", max_tokens=100, messages=USER, stream=True, extra_headers={"x-test-drop-after": "2"}
    )
    with pytest.raises(httpx2.RemoteProtocolError):
        await adrain(stream, events)
    assert [event.type for event in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
    ]


def test_drop_after_beyond_the_text_cuts_before_message_delta(client: anthropic.Anthropic) -> None:
    events: list[Any] = []
    stream = client.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=USER,
        stream=True,
        extra_headers={"x-test-drop-after": "99"},
    )
    with pytest.raises(httpx2.RemoteProtocolError):
        drain(stream, events)
    assert [event.type for event in events] == STREAM_EVENT_TYPES[:14]


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_status_header_maps_to_sdk_exceptions(
    client: anthropic.Anthropic, status: int, error_class: type[anthropic.APIStatusError], error_type: str
) -> None:
    with pytest.raises(error_class) as caught:
        client.messages.create(
            model="claude-x", max_tokens=10, messages=USER, extra_headers={"x-test-status": str(status)}
        )
    error = caught.value
    assert error.status_code == status
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == error_type
    assert error.body["request_id"] == error.response.headers["request-id"]


async def test_fail_next_429_with_retry_after_then_success(
    aclient: anthropic.AsyncAnthropic, server: LLMTestServer
) -> None:
    server.fail_next(429, retry_after=3)
    with pytest.raises(anthropic.RateLimitError) as caught:
        await aclient.messages.create(model="claude-x", max_tokens=10, messages=USER)
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    message = await aclient.messages.create(model="claude-x", max_tokens=10, messages=USER)
    assert message.stop_reason == "max_tokens"
    assert server.request_count == 2


def test_fail_next_applies_to_a_stream_request(client: anthropic.Anthropic, server: LLMTestServer) -> None:
    server.fail_next(500)
    with (
        pytest.raises(anthropic.InternalServerError),
        client.messages.stream(model="claude-x", max_tokens=10, messages=USER) as stream,
    ):
        stream.get_final_message()


def test_bad_requests_use_the_anthropic_error_format(
    client: anthropic.Anthropic, server: LLMTestServer
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude-x", max_tokens=10, messages=[])
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"] == {
        "type": "invalid_request_error",
        "message": "messages: must be a non-empty list",
    }
    with pytest.raises(anthropic.NotFoundError) as not_found:
        client.models.list()
    assert isinstance(not_found.value.body, dict)
    assert not_found.value.body["error"]["type"] == "not_found_error"
    assert server.request_count == 1


def test_requests_are_recorded(client: anthropic.Anthropic, server: LLMTestServer) -> None:
    client.messages.create(model="claude-x", max_tokens=10, messages=USER, system="sys")
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["authorization"] == "Bearer test"
    assert "anthropic-version" in request.headers
    assert request.json == {"model": "claude-x", "max_tokens": 10, "messages": USER, "system": "sys"}
    assert json.loads(json.dumps(request.json)) == request.json

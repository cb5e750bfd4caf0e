"""``with_raw_response`` and ``with_streaming_response`` keep working and are counted once."""

from __future__ import annotations

import openai
import pytest
from openai._legacy_response import LegacyAPIResponse
from openai._response import APIResponse, AsyncAPIResponse
from openai.types.chat import ChatCompletionMessageParam

from conftest import RecordingSink
from synapsekit.testing import LLMTestServer, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three"}]


def test_raw_response_is_counted_at_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert isinstance(raw, LegacyAPIResponse)
    assert (sink.only.input_tokens, sink.only.output_tokens) == (3, 12)
    assert raw.headers["content-type"].startswith("application/json")
    completion = raw.parse()
    assert completion is raw.parse()
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 12
    assert len(sink.ended) == 1


async def test_async_raw_response_is_counted(async_client: openai.AsyncOpenAI, sink: RecordingSink) -> None:
    raw = await async_client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="a b")
    assert len(raw.parse().data) == 1
    assert (sink.only.input_tokens, sink.only.output_tokens) == (2, 0)


def test_raw_response_of_a_stream_hands_out_the_stream_proxy(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(raw, LegacyAPIResponse)
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    assert raw.parse() is stream
    chunks = list(stream)
    assert chunks[-1].usage is not None
    del raw
    collect_garbage()
    assert (sink.only.input_tokens, sink.only.output_tokens, sink.only.usage_estimated) == (3, 12, False)


def test_raw_stream_read_as_lines_is_counted_exactly_without_the_usage_chunk(
    client: openai.OpenAI, sink: RecordingSink, server: LLMTestServer
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    lines = list(raw.http_response.iter_lines())
    # Asked for on the caller's behalf and read from the bytes: the usage chunk is not among the lines.
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert [line for line in lines if line.startswith("data: ")][-1] == "data: [DONE]"
    assert len([line for line in lines if line.startswith("data: {")]) == 14
    assert not any('"choices":[]' in line or '"choices": []' in line for line in lines)
    call = sink.only
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.chunks) == (3, 12, False, 14)


def test_streaming_response_parse_is_counted_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as response:
        assert isinstance(response, APIResponse)
        assert sink.ended == []
        completion = response.parse()
        assert completion.usage is not None
    assert (sink.only.input_tokens, sink.only.output_tokens, sink.only.usage_estimated) == (3, 12, False)


def test_streaming_response_json_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    with client.responses.with_streaming_response.create(model="gpt-4.1-mini", input="one two") as response:
        body = response.json()
    assert isinstance(body, dict)
    assert (sink.only.input_tokens, sink.only.output_tokens) == (2, 12)


def test_streaming_response_read_then_close_reads_usage_from_the_body(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    with client.embeddings.with_streaming_response.create(
        model="text-embedding-3-small", input="a b c"
    ) as response:
        response.read()
    assert (sink.only.input_tokens, sink.only.usage_estimated) == (3, False)


def test_streaming_response_closed_unread_is_estimated(client: openai.OpenAI, sink: RecordingSink) -> None:
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES):
        pass
    call = sink.only
    assert call.usage_estimated is True
    assert (call.input_tokens, call.output_tokens) == (4, 0)  # "one two three": 13 characters


def test_streaming_response_of_a_stream(client: openai.OpenAI, sink: RecordingSink) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        stream = response.parse()
        assert isinstance(stream, openai.Stream)
        list(stream)
    assert (sink.only.input_tokens, sink.only.output_tokens, sink.only.usage_estimated) == (3, 12, False)


async def test_async_streaming_response_parse_is_counted_once(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    async with async_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as response:
        assert isinstance(response, AsyncAPIResponse)
        completion = await response.parse()
        assert completion.choices[0].finish_reason == "stop"
    assert (sink.only.input_tokens, sink.only.output_tokens) == (3, 12)


async def test_async_streaming_response_json_is_counted(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    async with async_client.embeddings.with_streaming_response.create(
        model="text-embedding-3-small", input="a b"
    ) as response:
        await response.json()
    assert (sink.only.input_tokens, sink.only.output_tokens) == (2, 0)

"""The Responses API and embeddings through the real SDK: exact counts, sync/async, streamed or not."""

from __future__ import annotations

import openai
import pydantic
import pytest

import synapsekit
from conftest import RecordingSink
from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

INPUT = [{"role": "user", "content": [{"type": "input_text", "text": "Tell me a story"}]}]
INSTRUCTIONS = "Be short"
INPUT_WORDS = 6


def test_sync_response_counts_exact_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    with synapsekit.track() as tally:
        response = client.responses.create(model="gpt-4.1-mini", input=INPUT, instructions=INSTRUCTIONS)  # type: ignore[arg-type]
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, INPUT_WORDS, 12)
    call = sink.only
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "openai",
        "chat",
        "gpt-4.1-mini",
        "gpt-4.1-mini",
    )
    assert call.response_id == response.id
    assert call.finish_reasons == ("completed",)
    assert call.usage_estimated is False


async def test_async_response_counts_exact_tokens(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    await async_client.responses.create(model="gpt-4.1-mini", input="one two three", max_output_tokens=4)
    assert (sink.only.input_tokens, sink.only.output_tokens) == (3, 4)
    assert sink.only.max_output_tokens == 4


def test_sync_response_stream_counts_exact_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    stream = client.responses.create(model="gpt-4.1-mini", input="one two three", stream=True)
    assert isinstance(stream, openai.Stream)
    events = [event.type for event in stream]
    assert events[-1] == "response.completed"
    call = sink.only
    assert (call.input_tokens, call.output_tokens, call.streamed) == (3, 12, True)
    assert call.chunks == 12  # one output_text.delta per word
    assert call.response_id is not None
    assert call.response_id.startswith("resp_")
    assert call.finish_reasons == ("completed",)


async def test_async_response_stream_counts_exact_tokens(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    stream = await async_client.responses.create(
        model="gpt-4.1-mini", input="one two three", stream=True, extra_headers={"x-test-output-tokens": "3"}
    )
    assert isinstance(stream, openai.AsyncStream)
    async for _event in stream:
        pass
    assert (sink.only.input_tokens, sink.only.output_tokens) == (3, 3)


def test_stream_helper_is_counted_once(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    before = server.request_count
    with (
        synapsekit.track() as tally,
        client.responses.stream(model="gpt-4.1-mini", input="one two") as stream,
    ):
        for _event in stream:
            pass
        final = stream.get_final_response()
    assert final.usage is not None
    assert final.usage.output_tokens == 12
    assert server.request_count - before == 1
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, 2, 12)
    assert len(sink.ended) == 1


async def test_async_stream_helper_is_counted_once(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    async with async_client.responses.stream(model="gpt-4.1-mini", input="one two") as stream:
        final = await stream.get_final_response()
    assert final.output_text.startswith("Hello")
    assert (sink.only.input_tokens, sink.only.output_tokens) == (2, 12)


def test_cached_cache_write_and_reasoning_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    headers = {
        "x-test-input-tokens": "50",
        "x-test-cached-tokens": "30",
        "x-test-cache-creation-tokens": "10",
        "x-test-reasoning-tokens": "5",
    }
    client.responses.create(model="gpt-4.1-mini", input="hi", extra_headers=headers)
    list(client.responses.create(model="gpt-4.1-mini", input="hi", extra_headers=headers, stream=True))
    assert len(sink.ended) == 2
    for call in sink.ended:
        assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (50, 30, 10)
        assert (call.output_tokens, call.reasoning_tokens) == (12, 5)


class Story(pydantic.BaseModel):
    title: str


def test_parse_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    parsed = client.responses.parse(model="gpt-4.1-mini", input="one two three", text_format=Story)
    assert parsed.output_parsed == Story(title="Hello")
    assert (sink.only.input_tokens, sink.only.output_tokens) == (3, 12)


async def test_async_parse_is_counted(async_client: openai.AsyncOpenAI, sink: RecordingSink) -> None:
    await async_client.responses.parse(model="gpt-4.1-mini", input="one two three", text_format=Story)
    assert (sink.only.input_tokens, sink.only.output_tokens) == (3, 12)


def test_sync_embeddings_count_input_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    with synapsekit.track() as tally:
        result = client.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])
    assert len(result.data) == 2
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, 3, 0)
    call = sink.only
    assert (call.operation, call.request_model, call.response_model) == (
        "embeddings",
        "text-embedding-3-small",
        "text-embedding-3-small",
    )
    assert call.usage_estimated is False


async def test_async_embeddings_count_input_tokens(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    await async_client.embeddings.create(model="text-embedding-3-small", input="one two three four")
    assert (sink.only.input_tokens, sink.only.output_tokens) == (4, 0)

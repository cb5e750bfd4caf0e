"""Chat completions through the real SDK over HTTP: exact counts, sync/async, streamed or not."""

from __future__ import annotations

from typing import Any

import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionStreamOptionsParam

import synapsekit
from conftest import RecordingSink
from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You answer briefly"},
    {"role": "user", "content": [{"type": "text", "text": "Say hello to the world"}]},
]
INPUT_WORDS = 8


def test_sync_completion_counts_exact_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    with synapsekit.track() as tally:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (INPUT_WORDS, 12)
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, INPUT_WORDS, 12)
    call = sink.only
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "openai",
        "chat",
        "gpt-4o-mini",
        "gpt-4o-mini",
    )
    assert call.response_id == completion.id
    assert call.finish_reasons == ("stop",)
    assert call.server_address == "127.0.0.1"
    assert call.streamed is False
    assert call.usage_estimated is False
    assert call.error_type is None


async def test_async_completion_counts_exact_tokens(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    with synapsekit.track() as tally:
        await async_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=5, extra_headers={"x-test-output-tokens": "9"}
        )
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, INPUT_WORDS, 5)
    assert sink.only.finish_reasons == ("length",)
    assert sink.only.max_output_tokens == 5


def test_max_completion_tokens_wins_over_max_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=9, max_completion_tokens=3
    )
    assert sink.only.max_output_tokens == 3
    assert sink.only.output_tokens == 3


def test_sync_stream_counts_exact_tokens_and_hides_injected_usage_chunk(
    client: openai.OpenAI, sink: RecordingSink, server: LLMTestServer
) -> None:
    with synapsekit.track() as tally:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        assert isinstance(stream, openai.Stream)
        chunks = list(stream)
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "Hello from the synapsekit test server: every word here is one token."
    assert (tally.calls, tally.input_tokens, tally.output_tokens, tally.estimated_calls) == (
        1,
        INPUT_WORDS,
        12,
        0,
    )
    call = sink.only
    assert call.streamed is True
    assert call.finish_reasons == ("stop",)
    assert call.chunks == 14  # role chunk + 12 words + finish chunk
    assert call.time_to_first_chunk_s is not None


async def test_async_stream_counts_exact_tokens(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    with synapsekit.track() as tally:
        stream = await async_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, max_tokens=4
        )
        assert isinstance(stream, openai.AsyncStream)
        chunks = [chunk async for chunk in stream]
    assert all(chunk.choices for chunk in chunks)
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, INPUT_WORDS, 4)
    assert sink.only.finish_reasons == ("length",)


def _stream_dump(client: openai.OpenAI, **options: Any) -> list[dict[str, Any]]:
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, **options)
    return [chunk.model_dump(exclude={"id", "created"}) for chunk in stream]


@pytest.mark.parametrize(
    "options",
    [{}, {"stream_options": {"include_usage": True}}, {"stream_options": {"include_usage": False}}],
    ids=["no-stream-options", "include-usage", "usage-declined"],
)
def test_caller_sees_exactly_the_uninstrumented_chunks(
    client: openai.OpenAI, options: dict[str, Any]
) -> None:
    instrumented = _stream_dump(client, **options)
    synapsekit.uninstrument("openai")
    try:
        bare = _stream_dump(client, **options)
    finally:
        synapsekit.instrument("openai")
    assert instrumented == bare


def test_caller_who_asked_for_usage_gets_the_usage_chunk(client: openai.OpenAI, sink: RecordingSink) -> None:
    options: ChatCompletionStreamOptionsParam = {"include_usage": True}
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=options
    )
    chunks = list(stream)
    assert options == {"include_usage": True}
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == INPUT_WORDS
    assert (sink.only.input_tokens, sink.only.output_tokens) == (INPUT_WORDS, 12)


def test_callers_stream_options_are_copied_not_mutated(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    options: ChatCompletionStreamOptionsParam = {"include_obfuscation": False}
    list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options=options,
        )
    )
    assert options == {"include_obfuscation": False}
    assert server.requests[-1].json["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert sink.only.output_tokens == 12


def test_callers_extra_body_is_copied_and_kept(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    extra_body = {"user_tag": "a7"}
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_body=extra_body
        )
    )
    assert extra_body == {"user_tag": "a7"}
    sent = server.requests[-1].json
    assert (sent["user_tag"], sent["stream_options"]) == ("a7", {"include_usage": True})
    assert all(chunk.choices for chunk in chunks)
    assert (sink.only.input_tokens, sink.only.output_tokens) == (INPUT_WORDS, 12)


def test_usage_asked_for_in_callers_extra_body_is_theirs(client: openai.OpenAI, sink: RecordingSink) -> None:
    extra_body = {"stream_options": {"include_usage": True}}
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_body=extra_body
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (sink.only.input_tokens, sink.only.output_tokens) == (INPUT_WORDS, 12)


def test_declined_usage_is_estimated(client: openai.OpenAI, sink: RecordingSink) -> None:
    list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": False}
        )
    )
    call = sink.only
    assert call.usage_estimated is True
    # 68 characters streamed, at 4 characters a token; the prompt's 41 characters likewise.
    assert (call.output_tokens, call.input_tokens) == (17, 11)


def test_cached_and_reasoning_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    headers = {"x-test-input-tokens": "100", "x-test-cached-tokens": "80", "x-test-reasoning-tokens": "7"}
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers)
    list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers, stream=True
        )
    )
    for call in sink.ended:
        assert (call.input_tokens, call.cached_input_tokens) == (100, 80)
        assert (call.output_tokens, call.reasoning_tokens) == (12, 7)
    assert len(sink.ended) == 2


class Greeting(pydantic.BaseModel):
    greeting: str
    count: int


def test_parse_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    completion = client.chat.completions.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Greeting
    )
    assert completion.choices[0].message.parsed == Greeting(greeting="Hello", count=1)
    assert (sink.only.input_tokens, sink.only.output_tokens) == (INPUT_WORDS, 12)


async def test_async_parse_is_counted(async_client: openai.AsyncOpenAI, sink: RecordingSink) -> None:
    await async_client.chat.completions.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Greeting
    )
    assert (sink.only.input_tokens, sink.only.output_tokens) == (INPUT_WORDS, 12)


def test_stream_helper_is_counted_once(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    before = server.request_count
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content is not None
    assert server.request_count - before == 1
    assert (sink.only.input_tokens, sink.only.output_tokens) == (INPUT_WORDS, 12)


async def test_async_stream_helper_is_counted_once(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    async with async_client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        async for _event in stream:
            pass
    assert (sink.only.input_tokens, sink.only.output_tokens) == (INPUT_WORDS, 12)

"""The LLM test server against the real openai SDK, plus the server mechanics shared by both providers."""

from __future__ import annotations

import base64
import datetime
import enum
import http.client
import json
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, Literal, TypeVar

import openai
import pydantic
import pytest

from synapsekit.testing import SENTENCE, LLMTestServer, RecordedRequest, completion_text

TWELVE_WORDS = "Hello from the synapsekit test server: every word here is one token."
USER: list[Any] = [{"role": "user", "content": "How are you today"}]  # 4 words


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0) as sync_client:
        yield sync_client


@pytest.fixture
async def aclient(server: LLMTestServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=server.openai_base_url, api_key="test", max_retries=0
    ) as async_client:
        yield async_client


def raw_request(
    server: LLMTestServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(payload)
    finally:
        connection.close()


T = TypeVar("T")


def drain(items: Iterable[T], into: list[T]) -> None:
    """Collect items until the iterator ends or fails, keeping what arrived before a failure."""
    for item in items:
        into.append(item)


async def adrain(items: AsyncIterable[T], into: list[T]) -> None:
    async for item in items:
        into.append(item)


class Answer(pydantic.BaseModel):
    city: str
    population: int
    score: float
    tags: list[str]
    capital: bool
    nickname: str | None


# -- the fixed text -------------------------------------------------------------------------------------


def test_sentence_and_completion_text_are_cyclic_words() -> None:
    assert SENTENCE == TWELVE_WORDS
    assert completion_text(0) == ""
    assert completion_text(3) == "Hello from the"
    assert completion_text(14) == TWELVE_WORDS + " Hello from"


# -- chat completions ------------------------------------------------------------------------------------


def test_chat_completion_sync_exact_usage_and_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert choice.message.role == "assistant"
    assert choice.message.content == TWELVE_WORDS
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 12, 16)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


async def test_chat_completion_async_exact_usage_and_text(aclient: openai.AsyncOpenAI) -> None:
    completion = await aclient.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == TWELVE_WORDS
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 12)


def test_chat_counts_words_of_every_message_and_text_part(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "You are  terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this picture"},
                    {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}},
                    {"type": "text", "text": "briefly"},
                ],
            },
            {"role": "assistant", "content": "Sure."},
        ],
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 8


def test_chat_without_text_counts_one_input_token(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "   "}])
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1


@pytest.mark.parametrize("cap_param", ["max_tokens", "max_completion_tokens"])
def test_chat_output_capped_by_max_tokens_reports_length(client: openai.OpenAI, cap_param: str) -> None:
    completion = client.chat.completions.create(model="m", messages=USER, **{cap_param: 3})  # type: ignore[call-overload]
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "Hello from the"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_chat_cap_equal_to_output_is_a_natural_stop(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=USER, max_tokens=12)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 12


def test_constructor_settings_and_response_models() -> None:
    server = LLMTestServer(
        input_tokens=100,
        output_tokens=5,
        cached_tokens=80,
        reasoning_tokens=2,
        response_models={"gpt-4o": "gpt-4o-2024-08-06"},
    )
    with (
        server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
        other = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.model == "gpt-4o-2024-08-06"
    assert other.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == "Hello from the synapsekit test"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 5, 105)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 80
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 2


def test_chat_per_request_header_overrides(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="m",
        messages=USER,
        extra_headers={
            "x-test-input-tokens": "50",
            "x-test-output-tokens": "2",
            "x-test-cached-tokens": "10",
            "x-test-reasoning-tokens": "1",
            "x-test-cache-creation-tokens": "7",
            "x-test-latency-ms": "1",
        },
    )
    assert completion.choices[0].message.content == "Hello from"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (50, 2, 52)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 10
    assert usage.prompt_tokens_details.cache_write_tokens == 7
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 1


def test_header_output_override_is_still_capped(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="m", messages=USER, max_tokens=4, extra_headers={"x-test-output-tokens": "30"}
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4


def test_zero_output_tokens_gives_empty_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="m", messages=USER, extra_headers={"x-test-output-tokens": "0"}
    )
    assert completion.choices[0].message.content == ""
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 0


# -- chat streams ----------------------------------------------------------------------------------------


def _check_chat_stream(chunks: list[Any], *, include_usage: bool, words: int = 12) -> None:
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    content_chunks = chunks[1 : 1 + words]
    assert [c.choices[0].delta.content for c in content_chunks] == [
        word if i == 0 else f" {word}" for i, word in enumerate(completion_text(words).split())
    ]
    finish = chunks[1 + words]
    assert finish.choices[0].finish_reason == "stop"
    assert finish.choices[0].delta.content is None
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    if include_usage:
        assert len(chunks) == words + 3
        usage_chunk = chunks[-1]
        assert usage_chunk.choices == []
        assert usage_chunk.usage is not None
        assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (4, words)
        assert usage_chunk.usage.total_tokens == 4 + words
        # Like OpenAI: every other chunk carries an explicit "usage": null.
        assert all("usage" in c.model_fields_set and c.usage is None for c in chunks[:-1])
    else:
        assert len(chunks) == words + 2
        assert all("usage" not in c.model_fields_set for c in chunks)


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_stream_sync(client: openai.OpenAI, include_usage: bool) -> None:
    options: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    with client.chat.completions.create(model="m", messages=USER, stream=True, **options) as stream:
        chunks = list(stream)
    _check_chat_stream(chunks, include_usage=include_usage)


@pytest.mark.parametrize("include_usage", [True, False])
async def test_chat_stream_async(aclient: openai.AsyncOpenAI, include_usage: bool) -> None:
    options: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    stream = await aclient.chat.completions.create(model="m", messages=USER, stream=True, **options)
    chunks = [chunk async for chunk in stream]
    _check_chat_stream(chunks, include_usage=include_usage)


def test_chat_stream_include_usage_false_sends_no_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": False}
    )
    chunks = list(stream)
    _check_chat_stream(chunks, include_usage=False)


def test_chat_stream_capped_ends_with_length(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=USER,
        stream=True,
        max_completion_tokens=2,
        stream_options={"include_usage": True},
        extra_headers={"x-test-chunk-delay-ms": "1"},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from"
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 2


def test_chat_stream_drop_after_raises_mid_stream(client: openai.OpenAI) -> None:
    received: list[Any] = []
    stream = client.chat.completions.create(
        model="m", messages=USER, stream=True, extra_headers={"x-test-drop-after": "3"}
    )
    with pytest.raises(openai.APIConnectionError):
        drain(stream, received)
    assert len(received) == 4
    assert "".join(chunk.choices[0].delta.content for chunk in received) == "Hello from the"


async def test_chat_stream_drop_after_raises_mid_stream_async(aclient: openai.AsyncOpenAI) -> None:
    received: list[Any] = []
    stream = await aclient.chat.completions.create(
        model="m", messages=USER, stream=True, extra_headers={"x-test-drop-after": "0"}
    )
    with pytest.raises(openai.APIConnectionError):
        await adrain(stream, received)
    assert [chunk.choices[0].delta.role for chunk in received] == ["assistant"]


def test_drop_after_on_a_plain_request_hangs_up_unanswered(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=USER, extra_headers={"x-test-drop-after": "1"})


# -- structured output -----------------------------------------------------------------------------------


EXPECTED_ANSWER = Answer(city="Hello", population=1, score=2.5, tags=["from"], capital=True, nickname="the")


def test_chat_parse_fills_a_pydantic_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(model="gpt-4o", messages=USER, response_format=Answer)
    assert completion.choices[0].message.parsed == EXPECTED_ANSWER
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 12


async def test_chat_parse_async(aclient: openai.AsyncOpenAI) -> None:
    completion = await aclient.chat.completions.parse(model="gpt-4o", messages=USER, response_format=Answer)
    assert completion.choices[0].message.parsed == EXPECTED_ANSWER


def test_chat_parse_capped_raises_length_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model="gpt-4o", messages=USER, response_format=Answer, max_tokens=2)


class Nested(pydantic.BaseModel):
    answer: Answer
    others: list[Answer]


def test_chat_parse_resolves_nested_definitions(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(model="gpt-4o", messages=USER, response_format=Nested)
    parsed = completion.choices[0].message.parsed
    assert parsed is not None
    assert parsed.answer == EXPECTED_ANSWER
    assert parsed.others == [
        Answer(city="synapsekit", population=3, score=4.5, tags=["test"], capital=True, nickname="server:")
    ]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Event(pydantic.BaseModel):
    kind: Literal["launch", "landing"]
    color: Color
    when: datetime.datetime
    day: datetime.date
    ratio: float


def test_parse_handles_enums_literals_and_dates(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(model="gpt-4o", messages=USER, response_format=Event)
    assert completion.choices[0].message.parsed == Event(
        kind="launch",
        color=Color.RED,
        when=datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc),
        day=datetime.date(2025, 1, 1),
        ratio=1.5,
    )


def test_chat_stream_of_structured_output_concatenates_to_json(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=USER,
        stream=True,
        response_format={"type": "json_object"},
        extra_headers={"x-test-output-tokens": "5"},
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) == 5
    assert json.loads("".join(pieces)) == {"text": "Hello from the synapsekit test"}


# -- responses API ---------------------------------------------------------------------------------------


def _check_response_usage(response: Any, *, input_tokens: int = 2, output_tokens: int = 12) -> None:
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (input_tokens, output_tokens)
    assert usage.total_tokens == input_tokens + output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_responses_create_sync(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5", input="hello world")
    assert response.status == "completed"
    assert response.object == "response"
    assert response.model == "gpt-5"
    assert response.output_text == TWELVE_WORDS
    assert response.output[0].type == "message"
    _check_response_usage(response)


async def test_responses_create_async(aclient: openai.AsyncOpenAI) -> None:
    response = await aclient.responses.create(model="gpt-5", input="hello world", max_output_tokens=4)
    assert response.output_text == "Hello from the synapsekit"
    _check_response_usage(response, output_tokens=4)


def test_responses_counts_instructions_and_input_items(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-5",
        instructions="Answer in French",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "one two three"}]},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "five six"},
        ],
        extra_headers={"x-test-cached-tokens": "3", "x-test-reasoning-tokens": "4"},
    )
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 9
    assert usage.input_tokens_details.cached_tokens == 3
    assert usage.output_tokens_details.reasoning_tokens == 4


RESPONSE_EVENT_TYPES = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 12,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def _check_raw_response_events(events: list[Any]) -> None:
    assert [event.type for event in events] == RESPONSE_EVENT_TYPES
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == TWELVE_WORDS
    assert len(deltas) == 12
    assert events[0].response.status == "in_progress"
    assert events[0].response.usage is None
    assert events[-4].text == TWELVE_WORDS
    completed = events[-1].response
    assert completed.status == "completed"
    assert completed.output_text == TWELVE_WORDS
    _check_response_usage(completed)


def test_responses_stream_create_sync(client: openai.OpenAI) -> None:
    with client.responses.create(model="gpt-5", input="hello world", stream=True) as stream:
        events = list(stream)
    _check_raw_response_events(events)


async def test_responses_stream_create_async(aclient: openai.AsyncOpenAI) -> None:
    stream = await aclient.responses.create(model="gpt-5", input="hello world", stream=True)
    events = [event async for event in stream]
    _check_raw_response_events(events)


def test_responses_stream_helper_sync(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-5", input="hello world") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == TWELVE_WORDS
    assert final.output_text == TWELVE_WORDS
    _check_response_usage(final)


async def test_responses_stream_helper_async(aclient: openai.AsyncOpenAI) -> None:
    async with aclient.responses.stream(model="gpt-5", input="hello world") as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == TWELVE_WORDS
    _check_response_usage(final)


def test_responses_stream_helper_until_done(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-5", input="hello world") as stream:
        final = stream.until_done().get_final_response()
    assert final.output_text == TWELVE_WORDS


def test_responses_parse_with_text_format(client: openai.OpenAI) -> None:
    response = client.responses.parse(model="gpt-5", input="hello world", text_format=Answer)
    assert response.output_parsed == EXPECTED_ANSWER
    _check_response_usage(response)


def test_responses_stream_drop_after_raises(client: openai.OpenAI) -> None:
    events: list[Any] = []
    manager = client.responses.stream(
        model="gpt-5", input="hello world", extra_headers={"x-test-drop-after": "2"}
    )
    with manager as stream, pytest.raises(openai.APIConnectionError):
        drain(stream, events)
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert deltas == ["Hello", " from"]


# -- embeddings ------------------------------------------------------------------------------------------


def test_embeddings_base64_by_default_and_float_decode_equally(
    client: openai.OpenAI, server: LLMTestServer
) -> None:
    default = client.embeddings.create(model="text-embedding-3-small", input=["a b c", "d"])
    as_float = client.embeddings.create(
        model="text-embedding-3-small", input=["a b c", "d"], encoding_format="float"
    )
    assert server.requests[0].json["encoding_format"] == "base64"
    assert server.requests[1].json["encoding_format"] == "float"
    assert [d.embedding for d in default.data] == [d.embedding for d in as_float.data]
    assert [d.index for d in default.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in default.data)
    assert default.data[0].embedding != default.data[1].embedding
    assert sum(v * v for v in default.data[0].embedding) == pytest.approx(1.0, abs=1e-6)
    assert (default.usage.prompt_tokens, default.usage.total_tokens) == (4, 4)
    assert default.model == "text-embedding-3-small"


def test_embeddings_raw_base64_is_little_endian_float32(server: LLMTestServer) -> None:
    body = json.dumps({"model": "e", "input": "hello", "encoding_format": "base64", "dimensions": 3}).encode()
    status, _, payload = raw_request(
        server, "POST", "/v1/embeddings", body, {"Content-Type": "application/json"}
    )
    assert status == 200
    raw = base64.b64decode(payload["data"][0]["embedding"])
    assert len(raw) == 12
    body = json.dumps({"model": "e", "input": "hello", "dimensions": 3}).encode()
    _, _, as_float = raw_request(server, "POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
    assert list(struct.unpack("<3f", raw)) == as_float["data"][0]["embedding"]


async def test_embeddings_async_dimensions_and_token_inputs(aclient: openai.AsyncOpenAI) -> None:
    result = await aclient.embeddings.create(model="e", input=[[1, 2, 3], [4, 5]], dimensions=40)
    assert [len(d.embedding) for d in result.data] == [40, 40]
    assert result.usage.prompt_tokens == 5
    again = await aclient.embeddings.create(model="e", input=[[1, 2, 3], [4, 5]], dimensions=40)
    assert again.data[0].embedding == result.data[0].embedding


def test_embeddings_input_tokens_override(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="e", input="one two", extra_headers={"x-test-input-tokens": "9"})
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (9, 9)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"encoding_format": "int8"}, "encoding_format"),
        ({"dimensions": 0}, "dimensions"),
        ({"input": []}, "input"),
    ],
)
def test_embeddings_bad_parameters_are_400(client: openai.OpenAI, extra: dict[str, Any], param: str) -> None:
    arguments: dict[str, Any] = {"model": "e", "input": "text", **extra}
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(**arguments)
    assert caught.value.status_code == 400
    assert caught.value.param == param


# -- errors and fault injection --------------------------------------------------------------------------


def test_status_header_429_raises_rate_limit_error_with_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="m", messages=USER, extra_headers={"x-test-status": "429", "x-test-retry-after": "2"}
        )
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "2"
    assert error.code == "rate_limit_exceeded"
    assert error.type == "requests"
    assert error.response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "server_error"),
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "invalid_request_error"),
        (404, openai.NotFoundError, "invalid_request_error"),
    ],
)
async def test_status_header_maps_to_sdk_exceptions(
    aclient: openai.AsyncOpenAI, status: int, error_class: type[openai.APIStatusError], error_type: str
) -> None:
    with pytest.raises(error_class) as caught:
        await aclient.responses.create(model="m", input="x", extra_headers={"x-test-status": str(status)})
    assert caught.value.status_code == status
    assert caught.value.type == error_type
    assert "retry-after" not in caught.value.response.headers


def test_status_header_on_a_stream_fails_before_streaming(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="m", messages=USER, stream=True, extra_headers={"x-test-status": "500"}
        )


def test_fail_next_applies_to_the_next_n_model_requests(client: openai.OpenAI, server: LLMTestServer) -> None:
    server.fail_next(429, count=2, retry_after=1.5)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="m", messages=USER)
        assert caught.value.response.headers["retry-after"] == "1.5"
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == TWELVE_WORDS
    assert server.request_count == 3


def test_fail_next_takes_precedence_over_the_status_header(
    client: openai.OpenAI, server: LLMTestServer
) -> None:
    server.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=USER, extra_headers={"x-test-status": "429"})
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=USER, extra_headers={"x-test-status": "429"})


def test_fail_next_is_not_consumed_by_health_or_unknown_paths(
    client: openai.OpenAI, server: LLMTestServer
) -> None:
    server.fail_next(503)
    assert raw_request(server, "GET", "/health")[0] == 200
    assert raw_request(server, "POST", "/v1/unknown", b"{}")[0] == 404
    with pytest.raises(openai.InternalServerError) as caught:
        client.embeddings.create(model="e", input="x")
    assert caught.value.status_code == 503


def test_reset_clears_requests_and_queued_faults(client: openai.OpenAI, server: LLMTestServer) -> None:
    client.chat.completions.create(model="m", messages=USER)
    server.fail_next(500, count=3)
    server.reset()
    assert server.request_count == 0
    assert server.requests == []
    assert client.chat.completions.create(model="m", messages=USER).choices[0].finish_reason == "stop"
    assert server.request_count == 1


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((200,), {}), ((600,), {}), ((429,), {"count": 0}), ((429,), {"retry_after": -1.0}), ((True,), {})],
)
def test_fail_next_rejects_bad_arguments(
    server: LLMTestServer, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"must be"):
        server.fail_next(*args, **kwargs)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-test-output-tokens": "many"},
        {"x-test-input-tokens": "-1"},
        {"x-test-status": "200"},
        {"x-test-latency-ms": "x"},
    ],
)
def test_malformed_test_headers_are_400(client: openai.OpenAI, headers: dict[str, str]) -> None:
    with pytest.raises(openai.BadRequestError, match=r"Header 'x-test-"):
        client.chat.completions.create(model="m", messages=USER, extra_headers=headers)


def test_malformed_json_body_is_400_and_still_recorded(server: LLMTestServer) -> None:
    status, _, payload = raw_request(server, "POST", "/v1/chat/completions", b"{not json")
    assert status == 400
    assert payload["error"]["type"] == "invalid_request_error"
    assert server.request_count == 1
    assert server.requests[0].json is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([1, 2], None),
        ({"messages": USER}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": USER, "max_tokens": -1}, "max_tokens"),
        ({"model": "m", "messages": USER, "response_format": {"type": "json_schema"}}, "response_format"),
    ],
)
def test_invalid_chat_bodies_are_400(server: LLMTestServer, body: Any, param: str | None) -> None:
    status, _, payload = raw_request(server, "POST", "/v1/chat/completions", json.dumps(body).encode())
    assert status == 400
    assert payload["error"]["param"] == param


def test_unknown_path_and_method_are_json_404(server: LLMTestServer) -> None:
    status, _, payload = raw_request(server, "POST", "/v1/completions", b"{}")
    assert status == 404
    assert payload["error"]["message"] == "Unknown request URL: POST /v1/completions."
    status, _, payload = raw_request(server, "GET", "/v1/chat/completions")
    assert status == 404
    assert server.request_count == 0


def test_missing_v1_prefix_404_explains_the_base_url(server: LLMTestServer) -> None:
    with (
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
        pytest.raises(openai.NotFoundError, match="openai_base_url"),
    ):
        client.chat.completions.create(model="m", messages=USER)


def test_health(server: LLMTestServer) -> None:
    assert raw_request(server, "GET", "/health")[:3:2] == (200, {"status": "ok"})


# -- recording, concurrency, lifecycle -------------------------------------------------------------------


def test_requests_are_recorded_with_lower_case_headers(client: openai.OpenAI, server: LLMTestServer) -> None:
    client.chat.completions.create(model="m", messages=USER, extra_headers={"X-Trace-Me": "yes"})
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="r", input="hi", extra_headers={"x-test-status": "429"})
    assert server.request_count == 2
    first, second = server.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.headers["x-trace-me"] == "yes"
    assert first.headers["authorization"] == "Bearer test"
    assert first.json == {"model": "m", "messages": USER}
    assert (second.path, second.json) == ("/v1/responses", {"model": "r", "input": "hi"})


def test_concurrent_requests_from_50_threads(server: LLMTestServer, client: openai.OpenAI) -> None:
    results: list[tuple[int, str | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        try:
            completion = client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": " ".join(["w"] * (index + 1))}],
                extra_headers={"x-test-latency-ms": "5"},
            )
            assert completion.usage is not None
            with lock:
                results.append((completion.usage.prompt_tokens, completion.choices[0].message.content))
        except BaseException as exc:  # collected and re-checked in the main thread
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [(i, TWELVE_WORDS) for i in range(1, 51)]
    assert server.request_count == 50
    assert len({request.headers["x-stainless-retry-count"] for request in server.requests}) == 1


def test_stop_releases_the_port_and_start_is_idempotent() -> None:
    server = LLMTestServer()
    assert server.start() is server.start()
    port = server.port
    assert server.base_url == f"http://127.0.0.1:{port}"
    assert server.openai_base_url == f"http://127.0.0.1:{port}/v1"
    assert server.anthropic_base_url == f"http://127.0.0.1:{port}"
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
    with LLMTestServer(port=port) as again:
        assert again.port == port
        assert raw_request(again, "GET", "/health")[0] == 200


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = LLMTestServer().start()
    with openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0) as client:
        client.chat.completions.create(model="m", messages=USER)
        server.stop()
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="m", messages=USER)
    assert server.request_count == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"output_tokens": -1},
        {"input_tokens": -5},
        {"cached_tokens": 1.5},
        {"latency_s": -0.1},
        {"port": 70000},
    ],
)
def test_constructor_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be"):
        LLMTestServer(**kwargs)


def test_repr_shows_address_or_stopped() -> None:
    server = LLMTestServer()
    assert repr(server) == "<LLMTestServer stopped>"
    with server:
        assert repr(server) == f"<LLMTestServer http://127.0.0.1:{server.port}>"


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_module_entry_point_prints_base_url_and_stops_on_interrupt() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "synapsekit.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts background commands with SIGINT ignored, and the child would
        # inherit that: give it the default disposition, as in an interactive terminal.
        preexec_fn=_default_sigint,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        port = int(base_url.rsplit(":", 1)[1])
        with openai.OpenAI(base_url=f"{base_url}/v1", api_key="test", max_retries=0) as client:
            completion = client.chat.completions.create(model="m", messages=USER)
        assert completion.choices[0].message.content == TWELVE_WORDS
        assert port > 0
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_module_entry_point_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "synapsekit.testing", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")

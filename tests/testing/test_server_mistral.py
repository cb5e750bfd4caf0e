"""The LLM test server against the real mistralai SDK (``server_url=server.mistral_base_url``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx2
import pydantic
import pytest
from mistralai.client import Mistral, errors, models

from synapsekit.testing import LLMTestServer

TWELVE_WORDS = "Hello from the synapsekit test server: every word here is one token."
DELTAS = [word if i == 0 else f" {word}" for i, word in enumerate(TWELVE_WORDS.split())]
USER: list[Any] = [{"role": "user", "content": "How are you today"}]  # 4 words


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[Mistral]:
    with Mistral(api_key="test", server_url=server.mistral_base_url) as sdk:
        yield sdk


def usage_numbers(usage: models.UsageInfo | None) -> tuple[Any, ...]:
    assert usage is not None
    details = (usage.model_extra or {}).get("prompt_tokens_details")
    return usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, details


# -- chat.complete ---------------------------------------------------------------------------------------


def test_complete_sync_exact_usage_and_text(client: Mistral, server: LLMTestServer) -> None:
    response = client.chat.complete(model="mistral-small-latest", messages=USER)
    assert response.object == "chat.completion"
    assert response.model == "mistral-small-latest"
    assert response.id == "000000000000000000000001"
    choice = response.choices[0]
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert choice.message is not None
    assert choice.message.content == TWELVE_WORDS
    assert usage_numbers(response.usage) == (4, 12, 16, {"cached_tokens": 0})
    request = server.requests[0]
    assert request.path == "/mistral/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test"
    assert request.headers["user-agent"].startswith("mistral-client-python/")


async def test_complete_async_capped_by_max_tokens(client: Mistral) -> None:
    response = await client.chat.complete_async(model="mistral-large-latest", messages=USER, max_tokens=3)
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message is not None
    assert response.choices[0].message.content == "Hello from the"
    assert usage_numbers(response.usage) == (4, 3, 7, {"cached_tokens": 0})


def test_counts_every_message_and_text_chunk(client: Mistral) -> None:
    response = client.chat.complete(
        model="mistral-small-latest",
        messages=[
            {"role": "system", "content": "Answer in French"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}],
            },
            {"role": "assistant", "content": "four"},
        ],
    )
    assert usage_numbers(response.usage)[:3] == (7, 12, 19)


def test_cached_tokens_are_reported_within_the_prompt(client: Mistral) -> None:
    response = client.chat.complete(
        model="mistral-small-latest",
        messages=USER,
        http_headers={
            "x-test-input-tokens": "100",
            "x-test-cached-tokens": "64",
            "x-test-output-tokens": "2",
        },
    )
    assert usage_numbers(response.usage) == (100, 2, 102, {"cached_tokens": 64})


class Answer(pydantic.BaseModel):
    city: str
    population: int


def test_parse_with_a_json_schema_response_format(client: Mistral) -> None:
    response = client.chat.parse(response_format=Answer, model="mistral-small-latest", messages=USER)
    assert response.choices[0].message is not None
    assert response.choices[0].message.parsed == Answer(city="Hello", population=1)


# -- chat.stream: usage on the last chunk, always --------------------------------------------------------


def check_stream(events: list[models.CompletionEvent], *, words: int = 12, finish: str = "stop") -> None:
    chunks = [event.data for event in events]
    assert len(chunks) == words + 2
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert [chunk.choices[0].delta.content for chunk in chunks[1:-1]] == DELTAS[:words]
    last = chunks[-1]
    assert last.choices[0].finish_reason == finish
    assert last.choices[0].delta.content == ""
    assert usage_numbers(last.usage) == (4, words, 4 + words, {"cached_tokens": 0})
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1


def test_stream_sync_sends_usage_on_the_last_chunk(client: Mistral, server: LLMTestServer) -> None:
    with client.chat.stream(model="mistral-small-latest", messages=USER) as stream:
        events = list(stream)
    check_stream(events)
    # Nothing asked for usage: Mistral sends it anyway.
    assert "stream_options" not in server.requests[0].json


async def test_stream_async_capped(client: Mistral) -> None:
    stream = await client.chat.stream_async(model="mistral-small-latest", messages=USER, max_tokens=2)
    check_stream([event async for event in stream], words=2, finish="length")


def test_the_openai_path_speaks_openai_not_mistral(server: LLMTestServer) -> None:
    with Mistral(api_key="test", server_url=server.base_url) as sdk:
        events = list(sdk.chat.stream(model="mistral-small-latest", messages=USER))
    # OpenAI's dialect: a separate finish chunk, and no usage without stream_options.
    assert len(events) == 14
    assert all(event.data.usage is None for event in events)
    assert server.requests[0].path == "/v1/chat/completions"


def test_stream_drop_after_raises(client: Mistral) -> None:
    received: list[models.CompletionEvent] = []
    stream = client.chat.stream(
        model="mistral-small-latest", messages=USER, http_headers={"x-test-drop-after": "1"}
    )
    with pytest.raises(httpx2.RemoteProtocolError):
        received.extend(stream)
    assert [event.data.choices[0].delta.content for event in received] == ["", "Hello"]


# -- embeddings ------------------------------------------------------------------------------------------


def test_embeddings_sync(client: Mistral) -> None:
    result = client.embeddings.create(model="mistral-embed", inputs=["one two", "three"])
    assert result.model == "mistral-embed"
    assert [item.index for item in result.data] == [0, 1]
    vectors = [item.embedding or [] for item in result.data]
    assert [len(vector) for vector in vectors] == [8, 8]
    assert math.fsum(v * v for v in vectors[0]) == pytest.approx(1.0, abs=1e-6)
    assert usage_numbers(result.usage)[:3] == (3, 0, 3)


async def test_embeddings_async_with_output_dimension(client: Mistral) -> None:
    result = await client.embeddings.create_async(model="mistral-embed", inputs="one two", output_dimension=3)
    assert len(result.data[0].embedding or []) == 3
    assert result.usage.prompt_tokens == 2


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 400, 401, 500, 503])
def test_status_header_raises_sdk_error(client: Mistral, status: int) -> None:
    with pytest.raises(errors.SDKError) as caught:
        client.chat.complete(model="m", messages=USER, http_headers={"x-test-status": str(status)})
    assert caught.value.status_code == status
    assert '"object": "error"' in caught.value.body
    assert "Injected failure" in caught.value.body


def test_status_422_raises_http_validation_error(client: Mistral) -> None:
    with pytest.raises(errors.HTTPValidationError) as caught:
        client.chat.complete(model="m", messages=USER, http_headers={"x-test-status": "422"})
    assert caught.value.data.detail is not None
    assert caught.value.data.detail[0].msg == "Injected failure: HTTP 422 (x-test-status header)."


async def test_fail_next_on_an_async_stream(client: Mistral, server: LLMTestServer) -> None:
    server.fail_next(429, retry_after=1)
    with pytest.raises(errors.SDKError) as caught:
        await client.chat.stream_async(model="m", messages=USER)
    assert caught.value.status_code == 429
    assert caught.value.headers["retry-after"] == "1"

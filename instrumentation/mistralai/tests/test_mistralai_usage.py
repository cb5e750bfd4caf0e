"""Exact usage, cost and response details for chat (plain and streamed) and embeddings, sync and async."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from _mistralai_testkit import (
    COST_4_IN_2_CACHED_12_OUT,
    COST_EMBED_5,
    EMBED_INPUTS,
    EMBED_MODEL,
    FULL_TEXT,
    MODEL,
    WORDS,
    chat,
)
from mistralai.client import Mistral
from mistralai.client.utils.eventstreaming import EventStream, EventStreamAsync

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")


def assert_exact_chat(sink: CallRecorder, server: LLMTestServer, *, streamed: bool) -> None:
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "mistral_ai",
        "chat",
        MODEL,
        MODEL,
    )
    assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (4, 2, 0)
    assert (call.output_tokens, call.reasoning_tokens, call.usage_estimated) == (12, 0, False)
    assert call.cost == COST_4_IN_2_CACHED_12_OUT
    assert call.finish_reasons == ("stop",)
    assert call.response_id == "000000000000000000000001"
    assert (call.server_address, call.server_port, call.max_output_tokens) == ("127.0.0.1", server.port, 100)
    assert (call.streamed, call.chunks, call.error_type) == (streamed, 12 if streamed else 0, None)
    assert server.request_count == 1


def test_complete(client: Mistral, server: LLMTestServer, sink: CallRecorder) -> None:
    response = client.chat.complete(**chat())
    assert response.choices[0].message is not None
    assert response.choices[0].message.content == FULL_TEXT
    assert_exact_chat(sink, server, streamed=False)


async def test_complete_async(async_client: Mistral, server: LLMTestServer, sink: CallRecorder) -> None:
    response = await async_client.chat.complete_async(**chat())
    assert response.usage is not None and response.usage.completion_tokens == 12
    assert_exact_chat(sink, server, streamed=False)


def test_stream(client: Mistral, server: LLMTestServer, sink: CallRecorder) -> None:
    stream = client.chat.stream(**chat())
    assert isinstance(stream, EventStream)
    with stream as events:
        chunks = [event.data for event in events]
    assert "".join(
        c.choices[0].delta.content for c in chunks if isinstance(c.choices[0].delta.content, str)
    ) == (FULL_TEXT)
    # Mistral's own shape reaches the caller: role event, one event per word, the usage event.
    assert len(chunks) == len(WORDS) + 2
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 4
    assert "stream_options" not in server.requests[0].json
    assert_exact_chat(sink, server, streamed=True)


async def test_stream_async(async_client: Mistral, server: LLMTestServer, sink: CallRecorder) -> None:
    stream = await async_client.chat.stream_async(**chat())
    assert isinstance(stream, EventStreamAsync)
    async with stream as events:
        texts = [event.data.choices[0].delta.content async for event in events]
    assert "".join(text for text in texts if isinstance(text, str)) == FULL_TEXT
    assert_exact_chat(sink, server, streamed=True)


def assert_exact_embeddings(sink: CallRecorder, server: LLMTestServer) -> None:
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "mistral_ai",
        "embeddings",
        EMBED_MODEL,
        EMBED_MODEL,
    )
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.streamed) == (
        5,
        0,
        False,
        False,
    )
    assert (call.cost, call.max_output_tokens) == (COST_EMBED_5, 0)
    assert server.request_count == 1


def test_embeddings(client: Mistral, server: LLMTestServer, sink: CallRecorder) -> None:
    response = client.embeddings.create(model=EMBED_MODEL, inputs=EMBED_INPUTS, output_dimension=4)
    assert [len(item.embedding or ()) for item in response.data] == [4, 4]
    assert_exact_embeddings(sink, server)


async def test_embeddings_async(async_client: Mistral, server: LLMTestServer, sink: CallRecorder) -> None:
    await async_client.embeddings.create_async(model=EMBED_MODEL, inputs=EMBED_INPUTS)
    assert_exact_embeddings(sink, server)


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_max_tokens_cap_is_the_finish_reason(mode: str, client: Mistral, sink: CallRecorder) -> None:
    if mode == "complete":
        client.chat.complete(**chat(max_tokens=3))
    else:
        for _ in client.chat.stream(**chat(max_tokens=3)):
            pass
    [call] = sink.ended
    assert (call.output_tokens, call.finish_reasons, call.max_output_tokens) == (3, ("length",), 3)


def test_prompt_text_reads_every_message_and_text_chunk(client: Mistral, sink: CallRecorder) -> None:
    messages: list[Any] = [
        {"role": "system", "content": "Answer in French"},
        {"role": "user", "content": [{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}]},
        {"role": "assistant", "content": "four"},
    ]
    client.chat.complete(**chat(messages=messages, http_headers={}))
    [call] = sink.ended
    assert call.input_tokens == 7
    assert call.prompt_text == "Answer in French\none two\nthree\nfour"


class Answer(pydantic.BaseModel):
    city: str
    population: int


def test_parse_goes_through_complete_once(client: Mistral, sink: CallRecorder) -> None:
    response = client.chat.parse(response_format=Answer, **chat())
    assert response.choices[0].message is not None
    assert response.choices[0].message.parsed == Answer(city="Hello", population=1)
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.cached_input_tokens) == (4, 12, 2)


def without_ids(value: Any) -> Any:
    """``value`` without the per-request ``id`` and ``created`` the test server varies by design."""
    if isinstance(value, dict):
        return {key: without_ids(item) for key, item in value.items() if key not in ("id", "created")}
    if isinstance(value, list):
        return [without_ids(item) for item in value]
    return value


def test_results_are_identical_to_an_uninstrumented_run(client: Mistral) -> None:
    def run() -> Any:
        complete = client.chat.complete(**chat()).model_dump()
        events = [event.model_dump() for event in client.chat.stream(**chat())]
        embedded = client.embeddings.create(model=EMBED_MODEL, inputs=EMBED_INPUTS).model_dump()
        return without_ids([complete, events, embedded])

    instrumented = run()
    synapsekit.uninstrument("mistralai")
    try:
        assert run() == instrumented
    finally:
        synapsekit.instrument("mistralai")


def test_tally_adds_every_kind_of_call(client: Mistral) -> None:
    with synapsekit.track() as tally:
        client.chat.complete(**chat())
        for _ in client.chat.stream(**chat()):
            pass
        client.embeddings.create(model=EMBED_MODEL, inputs=EMBED_INPUTS)
    assert tally.tokens == {"input": 13, "output": 24, "total": 37}
    assert (tally.cached_input_tokens, tally.calls, tally.estimated_calls) == (4, 3, 0)
    assert tally.cost_usd_decimal == 2 * COST_4_IN_2_CACHED_12_OUT + COST_EMBED_5

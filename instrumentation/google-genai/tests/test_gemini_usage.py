"""Every request counted exactly once with the usage the server reported, priced, in both API modes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from _gemini_testkit import (
    EMBEDDING_MODEL,
    EMBEDDING_RATE,
    EMBEDDING_USAGE,
    MODEL,
    PROMPT,
    TEXT,
    config,
    flash_cost,
    gemini_client,
    generate,
    generate_async,
    provider_of,
)
from google import genai
from google.genai import types

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

MODES = ["generate", "stream"]
CACHE_AND_THOUGHTS = {
    "x-test-input-tokens": "100",
    "x-test-cached-tokens": "80",
    "x-test-output-tokens": "5",
    "x-test-reasoning-tokens": "2",
}


def assert_counted(call: Any, *, provider: str, streamed: bool, output: int = 12) -> None:
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        provider,
        "generate_content",
        MODEL,
        MODEL,
    )
    assert (call.input_tokens, call.output_tokens, call.cached_input_tokens, call.reasoning_tokens) == (
        4,
        output,
        0,
        0,
    )
    assert (call.streamed, call.usage_estimated, call.error_type) == (streamed, False, None)
    assert call.cost == flash_cost(4, output)


@pytest.mark.parametrize("mode", MODES)
def test_sync_counted_once(any_client: genai.Client, sink: CallRecorder, mode: str) -> None:
    with synapsekit.track() as tally:
        assert generate(any_client, mode) == TEXT
    assert_counted(sink.only, provider=provider_of(any_client), streamed=mode == "stream")
    assert sink.only.finish_reasons == ("stop",)
    assert (tally.calls, tally.tokens) == (1, {"input": 4, "output": 12, "total": 16})
    assert tally.cost_usd_decimal == flash_cost(4, 12)


@pytest.mark.parametrize("mode", MODES)
async def test_async_counted_once(any_client: genai.Client, sink: CallRecorder, mode: str) -> None:
    with synapsekit.track() as tally:
        assert await generate_async(any_client, mode) == TEXT
    assert_counted(sink.only, provider=provider_of(any_client), streamed=mode == "stream")
    assert (tally.calls, tally.tokens) == (1, {"input": 4, "output": 12, "total": 16})


@pytest.mark.parametrize("mode", MODES)
def test_cached_and_thinking_tokens(any_client: genai.Client, sink: CallRecorder, mode: str) -> None:
    # promptTokenCount=100 includes cachedContentTokenCount=80; candidates=3 + thoughts=2 is the output.
    generate(any_client, mode, config=config(CACHE_AND_THOUGHTS))
    call = sink.only
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        100,
        80,
        5,
        2,
    )
    assert call.cost == flash_cost(100, 5, cached=80) == Decimal("0.00002090")


@pytest.mark.parametrize("mode", MODES)
async def test_async_cached_and_thinking_tokens(
    any_client: genai.Client, sink: CallRecorder, mode: str
) -> None:
    await generate_async(any_client, mode, config=config(CACHE_AND_THOUGHTS))
    call = sink.only
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        100,
        80,
        5,
        2,
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "generation_config",
    [{"max_output_tokens": 3}, {"maxOutputTokens": 3}, types.GenerateContentConfig(max_output_tokens=3)],
    ids=["dict", "camel-dict", "typed"],
)
def test_max_output_tokens_is_read_from_the_config(
    client: genai.Client, sink: CallRecorder, mode: str, generation_config: Any
) -> None:
    assert generate(client, mode, config=generation_config) == "Hello from the"
    call = sink.only
    assert (call.max_output_tokens, call.output_tokens, call.finish_reasons) == (3, 3, ("max_tokens",))


def test_prompt_text_covers_system_instruction_and_every_text_part(
    client: genai.Client, sink: CallRecorder
) -> None:
    client.models.generate_content(
        model=MODEL,
        contents=[
            types.Content(role="user", parts=[types.Part(text="one two"), types.Part(text="three")]),
            {"role": "model", "parts": [{"text": "four"}]},
            "five six",
        ],
        config={"system_instruction": "Answer in French"},
    )
    call = sink.only
    assert call.prompt_text == "Answer in French\none two\nthree\nfour\nfive six"
    assert call.input_tokens == 9


def test_results_are_identical_to_an_uninstrumented_run(sink: CallRecorder) -> None:
    def run() -> tuple[Any, ...]:
        with LLMTestServer() as server:
            client = gemini_client(server)
            response = client.models.generate_content(model=MODEL, contents=PROMPT)
            chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
            embedding = client.models.embed_content(model=EMBEDDING_MODEL, contents=["one two", "three"])
        return (
            type(response),
            response.model_dump(exclude={"sdk_http_response"}),
            [(type(chunk), chunk.model_dump(exclude={"sdk_http_response"})) for chunk in chunks],
            embedding.model_dump(exclude={"sdk_http_response"}),
        )

    instrumented = run()
    assert len(sink.ended) == 3
    synapsekit.uninstrument("google-genai")
    try:
        assert run() == instrumented
    finally:
        synapsekit.instrument("google-genai")
    assert len(sink.ended) == 3


def test_chats_count_each_request(client: genai.Client, sink: CallRecorder) -> None:
    chat = client.chats.create(model=MODEL)
    chat.send_message("one two")
    for _ in chat.send_message_stream("three"):
        pass
    # The second request re-sends the history: 2 words + 12 answered + 1.
    assert [(call.input_tokens, call.output_tokens, call.streamed) for call in sink.ended] == [
        (2, 12, False),
        (15, 12, True),
    ]


def test_dated_response_model_is_priced_as_its_family(sink: CallRecorder) -> None:
    with LLMTestServer(response_models={"gemini-2.0-flash": "gemini-2.0-flash-001"}) as server:
        client = gemini_client(server)  # kept: a collected client closes its HTTP connection pool
        client.models.generate_content(model="gemini-2.0-flash", contents=PROMPT)
    call = sink.only
    assert (call.request_model, call.response_model) == ("gemini-2.0-flash", "gemini-2.0-flash-001")
    # gemini-2.0-flash: $0.10 in, $0.40 out per million tokens.
    assert call.cost == 4 * Decimal("0.10") / 1_000_000 + 12 * Decimal("0.40") / 1_000_000


def test_models_prefix_is_priced(client: genai.Client, sink: CallRecorder) -> None:
    client.models.generate_content(model=f"models/{MODEL}", contents=PROMPT)
    assert (sink.only.request_model, sink.only.cost) == (f"models/{MODEL}", flash_cost(4, 12))


# -- embeddings ------------------------------------------------------------------------------------------


def test_embeddings_gemini_api(client: genai.Client, sink: CallRecorder, server: LLMTestServer) -> None:
    with synapsekit.track() as tally:
        client.models.embed_content(model=EMBEDDING_MODEL, contents=["one two", "three"])
    call = sink.only
    assert (call.provider, call.operation, call.request_model) == (
        "gcp.gemini",
        "embeddings",
        EMBEDDING_MODEL,
    )
    # Without usage in the response: "one two\nthree" is 13 characters, 4 tokens estimated.
    tokens = 3 if EMBEDDING_USAGE else 4
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.max_output_tokens) == (
        tokens,
        0,
        not EMBEDDING_USAGE,
        0,
    )
    assert call.cost == tokens * EMBEDDING_RATE
    assert (tally.calls, tally.tokens["total"]) == (1, tokens)
    assert server.request_count == 1


async def test_embeddings_async(any_client: genai.Client, sink: CallRecorder) -> None:
    await any_client.aio.models.embed_content(
        model=EMBEDDING_MODEL,
        contents="one two",
        config={"http_options": {"headers": {"x-test-input-tokens": "9"}}},
    )
    call = sink.only
    # google-genai 1.0 reads no usage (Gemini API: "one two" estimated at 2) or calls Vertex :predict, which
    # counts the words (2) whatever the header says.
    tokens = 9 if EMBEDDING_USAGE else 2
    assert (call.provider, call.input_tokens, call.output_tokens) == (provider_of(any_client), tokens, 0)
    assert call.cost == tokens * EMBEDDING_RATE


@pytest.mark.filterwarnings("ignore:no price known for model 'text-embedding-005'")
def test_embeddings_vertex_every_endpoint(
    vertex: genai.Client, sink: CallRecorder, server: LLMTestServer
) -> None:
    vertex.models.embed_content(model=EMBEDDING_MODEL, contents="one two")
    vertex.models.embed_content(model=EMBEDDING_MODEL, contents=["one two", "three"])
    vertex.models.embed_content(model="text-embedding-005", contents=["one two", "three"])
    assert server.request_count == 3
    assert [(call.provider, call.input_tokens, call.usage_estimated) for call in sink.ended] == [
        ("gcp.vertex_ai", 2, False),
        ("gcp.vertex_ai", 3, False),
        # :predict reports each instance's statistics.token_count: summed.
        ("gcp.vertex_ai", 3, False),
    ]
    assert [call.cost for call in sink.ended[:2]] == [2 * EMBEDDING_RATE, 3 * EMBEDDING_RATE]
    assert sink.ended[2].cost is None  # genai-prices has no price for text-embedding-005: unknown, not $0

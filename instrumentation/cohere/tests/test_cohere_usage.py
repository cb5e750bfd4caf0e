"""Billed units, not tokens: exact usage and cost of chat (plain and streamed) and embed, sync and async."""

from __future__ import annotations

from typing import Any

import cohere
import httpx
import pytest
from _cohere_testkit import (
    COST_4_IN_12_OUT,
    COST_EMBED_5,
    COST_OF_THE_TOKENS_FIELD,
    EMBED_INPUTS,
    EMBED_MODEL,
    FULL_TEXT,
    MODEL,
    async_stream_text,
    chat,
    options,
    stream_text,
)

import synapsekit
from synapsekit._pricing.prices import compute_cost
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")


def assert_exact_chat(sink: CallRecorder, server: LLMTestServer, *, streamed: bool) -> None:
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model, call.model) == ("cohere", "chat", MODEL, MODEL)
    # billed_units: 4 in (2 of them cache hits), 12 out -- not usage.tokens' 68 and 13.
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens) == (4, 2, 12)
    assert (call.reasoning_tokens, call.usage_estimated, call.error_type) == (0, False, None)
    assert call.cost == COST_4_IN_12_OUT
    assert call.finish_reasons == ("COMPLETE",)
    assert call.response_id == "00000000-0000-0000-0000-000000000001"
    assert (call.server_address, call.server_port, call.max_output_tokens) == ("127.0.0.1", server.port, 100)
    assert (call.streamed, call.chunks) == (streamed, 12 if streamed else 0)
    assert server.request_count == 1


def test_chat(client: cohere.ClientV2, server: LLMTestServer, sink: CallRecorder) -> None:
    response = client.chat(**chat())
    assert response.usage is not None and response.usage.tokens is not None
    assert (response.usage.tokens.input_tokens, response.usage.tokens.output_tokens) == (68, 13)
    assert response.message.content is not None and response.message.content[0].text == FULL_TEXT  # type: ignore[union-attr]
    assert_exact_chat(sink, server, streamed=False)


async def test_chat_async(
    async_client: cohere.AsyncClientV2, server: LLMTestServer, sink: CallRecorder
) -> None:
    await async_client.chat(**chat())
    assert_exact_chat(sink, server, streamed=False)


def test_chat_stream(client: cohere.ClientV2, server: LLMTestServer, sink: CallRecorder) -> None:
    assert stream_text(client) == FULL_TEXT
    assert_exact_chat(sink, server, streamed=True)


async def test_chat_stream_async(
    async_client: cohere.AsyncClientV2, server: LLMTestServer, sink: CallRecorder
) -> None:
    assert await async_stream_text(async_client) == FULL_TEXT
    assert_exact_chat(sink, server, streamed=True)


def test_raw_responses_are_counted(client: cohere.ClientV2, sink: CallRecorder) -> None:
    raw = client.with_raw_response.chat(**chat())
    assert raw.data.usage is not None
    with client.with_raw_response.chat_stream(**chat()) as response:
        events = list(response.data)
    assert [event.type for event in events][-1] == "message-end"
    assert [(call.input_tokens, call.output_tokens, call.streamed) for call in sink.ended] == [
        (4, 12, False),
        (4, 12, True),
    ]


def test_the_v1_clients_v2_resource_is_counted(server: LLMTestServer, sink: CallRecorder) -> None:
    with httpx.Client() as http:
        client = cohere.Client(api_key="test", base_url=server.cohere_base_url, httpx_client=http)
        client.v2.chat(**chat())
    assert (sink.only.input_tokens, sink.only.output_tokens) == (4, 12)


def assert_exact_embed(sink: CallRecorder, server: LLMTestServer) -> None:
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model) == ("cohere", "embeddings", EMBED_MODEL)
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.max_output_tokens) == (
        5,
        0,
        False,
        0,
    )
    assert call.cost == COST_EMBED_5
    assert server.request_count == 1


def test_embed(client: cohere.ClientV2, server: LLMTestServer, sink: CallRecorder) -> None:
    response = client.embed(
        model=EMBED_MODEL,
        texts=EMBED_INPUTS,
        input_type="search_document",
        embedding_types=["float"],
        request_options=options(),
    )
    assert response.embeddings.float_ is not None and len(response.embeddings.float_) == 2
    assert_exact_embed(sink, server)


async def test_embed_async_with_inputs(
    async_client: cohere.AsyncClientV2, server: LLMTestServer, sink: CallRecorder
) -> None:
    await async_client.embed(
        model=EMBED_MODEL,
        inputs=[{"content": [{"type": "text", "text": text}]} for text in EMBED_INPUTS],
        input_type="search_document",
        embedding_types=["int8"],
        request_options=options(),
    )
    assert_exact_embed(sink, server)
    assert sink.only.prompt_text == "one two three\nfour five"


@pytest.mark.parametrize("streamed", [False, True])
def test_max_tokens_cap_is_the_finish_reason(
    streamed: bool, client: cohere.ClientV2, sink: CallRecorder
) -> None:
    if streamed:
        assert stream_text(client, max_tokens=3) == "Hello from the"
    else:
        client.chat(**chat(max_tokens=3))
    [call] = sink.ended
    assert (call.output_tokens, call.finish_reasons, call.max_output_tokens) == (3, ("MAX_TOKENS",), 3)


def test_counting_usage_tokens_would_have_overcharged() -> None:
    wrong = compute_cost("cohere", MODEL, input_tokens=68, output_tokens=13)
    assert wrong is not None and wrong.total == COST_OF_THE_TOKENS_FIELD


def test_results_are_identical_to_an_uninstrumented_run(client: cohere.ClientV2) -> None:
    def run() -> list[Any]:
        return [
            client.chat(**chat()).dict(exclude={"id"}),
            [event.dict() for event in client.chat_stream(**chat()) if event.type != "message-start"],
            client.embed(
                model=EMBED_MODEL, texts=EMBED_INPUTS, input_type="search_document", request_options=options()
            ).dict(exclude={"id"}),
        ]

    instrumented = run()
    synapsekit.uninstrument("cohere")
    try:
        assert run() == instrumented
    finally:
        synapsekit.instrument("cohere")


def test_tally_adds_every_kind_of_call(client: cohere.ClientV2) -> None:
    with synapsekit.track() as tally:
        client.chat(**chat())
        stream_text(client)
        client.embed(
            model=EMBED_MODEL, texts=EMBED_INPUTS, input_type="search_document", request_options=options()
        )
    assert tally.tokens == {"input": 13, "output": 24, "total": 37}
    assert (tally.cached_input_tokens, tally.calls, tally.estimated_calls) == (4, 3, 0)
    assert tally.cost_usd_decimal == 2 * COST_4_IN_12_OUT + COST_EMBED_5

"""Every route litellm speaks itself, sync, async and streamed: one call with the server's exact usage and cost,
and the caller sees exactly what an uninstrumented run shows."""

from __future__ import annotations

from decimal import Decimal

import litellm
import pytest
from _litellm_testkit import ANTHROPIC, MODES, OPENAI, OUTPUT_TOKENS, ROUTES, WORDS, Route, request, send_any

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.provider)
@pytest.mark.parametrize("mode", MODES)
async def test_one_exact_call_and_an_unchanged_answer(
    route: Route, mode: str, server: LLMTestServer, sink: CallRecorder
) -> None:
    bare = await send_any(route, server, mode)
    assert sink.ended == []
    synapsekit.instrument("litellm")
    try:
        with synapsekit.track() as tally:
            seen = await send_any(route, server, mode)
    finally:
        synapsekit.uninstrument("litellm")
    assert seen == bare
    if mode in ("stream", "astream"):
        # The usage chunk we asked for is hidden: the caller sees the words and the finish chunk only.
        assert [view[0] for view in seen if view[0]] == WORDS
        assert not any(view[2] for view in seen)
    assert server.request_count == 2
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        route.provider,
        "chat",
        route.request_model,
        route.request_model,
    )
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.error_type) == (
        3,
        OUTPUT_TOKENS,
        False,
        None,
    )
    assert (call.streamed, call.max_output_tokens, call.finish_reasons) == (
        mode in ("stream", "astream"),
        50,
        ("stop",),
    )
    assert (call.server_address, call.server_port) == ("127.0.0.1", server.port)
    assert call.cost == route.cost_3_in_4_out
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, 3, OUTPUT_TOKENS)
    # No usage chunk reached the stream's request body unless we asked for it there (OpenAI's dialect).
    if mode in ("stream", "astream") and route is OPENAI:
        assert server.requests[-1].json["stream_options"] == {"include_usage": True}
        assert "stream_options" not in server.requests[0].json


CACHE_HEADERS = {
    "x-test-input-tokens": "100",
    "x-test-cached-tokens": "60",
    "x-test-cache-creation-tokens": "10",
    "x-test-reasoning-tokens": "3",
    "x-test-output-tokens": "8",
}
# claude-haiku-4-5: 30 uncached x $1/M + 60 read x $0.10/M + 10 written x $1.25/M + 8 out x $5/M.
ANTHROPIC_CACHED_COST = Decimal("0.0000885")
# gpt-4o-mini: 40 uncached x $0.15/M + 60 cached x $0.075/M + 8 out x $0.60/M (the write priced as input).
OPENAI_CACHED_COST = Decimal("0.0000153")


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize(
    ("route", "cost"), [(ANTHROPIC, ANTHROPIC_CACHED_COST), (OPENAI, OPENAI_CACHED_COST)]
)
@pytest.mark.parametrize("mode", MODES)
async def test_cache_and_reasoning_tokens(
    route: Route, cost: Decimal, mode: str, server: LLMTestServer, sink: CallRecorder
) -> None:
    headers = dict(CACHE_HEADERS)
    if route is ANTHROPIC:
        # Thinking tokens in Anthropic's usage are read by litellm's newer releases only: tested through
        # OpenAI's dialect, where every supported litellm reads them.
        del headers["x-test-reasoning-tokens"]
    await send_any(route, server, mode, extra_headers=headers)
    [call] = sink.ended
    reasoning = 0 if route is ANTHROPIC else 3
    # Input includes the cache reads and writes; output includes the reasoning tokens.
    assert (
        call.input_tokens,
        call.cached_input_tokens,
        call.cache_creation_input_tokens,
        call.output_tokens,
        call.reasoning_tokens,
    ) == (100, 60, 10, 8, reasoning)
    assert call.cost == cost


@pytest.mark.usefixtures("instrumented")
def test_callers_own_usage_chunk_is_kept(server: LLMTestServer, sink: CallRecorder) -> None:
    stream = litellm.completion(
        stream=True, stream_options={"include_usage": True}, **request(ANTHROPIC, server)
    )
    chunks = list(stream)
    assert [chunk.usage.completion_tokens for chunk in chunks if getattr(chunk, "usage", None)] == [
        OUTPUT_TOKENS
    ]
    assert getattr(chunks[-1], "usage", None) is not None
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (3, OUTPUT_TOKENS, False)


@pytest.mark.usefixtures("instrumented")
def test_positional_model_and_messages(server: LLMTestServer, sink: CallRecorder) -> None:
    kwargs = request(ANTHROPIC, server)
    litellm.completion(kwargs.pop("model"), kwargs.pop("messages"), **kwargs)
    [call] = sink.ended
    assert (call.request_model, call.input_tokens, call.prompt_text) == (
        "claude-haiku-4-5",
        3,
        "hi there you",
    )


# text-embedding-3-small: $0.02/M input tokens; "a b c" and "d e" are five.
EMBEDDING_COST = Decimal("0.0000001")


@pytest.mark.usefixtures("instrumented")
async def test_embeddings_sync_and_async(server: LLMTestServer, sink: CallRecorder) -> None:
    kwargs = {"model": "openai/text-embedding-3-small", "api_base": server.openai_base_url, "api_key": "k"}
    response = litellm.embedding(input=["a b c", "d e"], **kwargs)
    assert len(response.data) == 2
    response = await litellm.aembedding(input=["a b c", "d e"], **kwargs)
    assert len(response.data) == 2
    assert server.request_count == 2
    assert [
        (c.provider, c.operation, c.request_model, c.input_tokens, c.output_tokens) for c in sink.ended
    ] == [("openai", "embeddings", "text-embedding-3-small", 5, 0)] * 2
    assert [call.cost for call in sink.ended] == [EMBEDDING_COST] * 2


@pytest.mark.usefixtures("instrumented")
def test_mock_responses_are_not_provider_requests(sink: CallRecorder) -> None:
    response = litellm.completion(model="anthropic/claude-haiku-4-5", messages=[], mock_response="hi")
    assert response.choices[0].message.content == "hi"
    assert sink.ended == []


def test_uninstrument_restores_the_functions(server: LLMTestServer, sink: CallRecorder) -> None:
    originals = [litellm.completion, litellm.acompletion, litellm.embedding, litellm.aembedding]
    main_originals = [litellm.main.completion, litellm.main.acompletion, litellm.main.embedding]
    synapsekit.instrument("litellm")
    assert litellm.completion is not originals[0] and litellm.main.completion is not main_originals[0]
    synapsekit.uninstrument("litellm")
    assert [litellm.completion, litellm.acompletion, litellm.embedding, litellm.aembedding] == originals
    assert [litellm.main.completion, litellm.main.acompletion, litellm.main.embedding] == main_originals
    litellm.completion(**request(ANTHROPIC, server))
    assert sink.ended == [] and server.request_count == 1

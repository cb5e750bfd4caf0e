"""Exact usage of chat, generate (whole and streamed) and embed, sync and async; local models cost $0."""

from __future__ import annotations

from typing import Any

import ollama
import pytest
from _ollama_testkit import (
    EMBED_INPUTS,
    EMBED_MODEL,
    FULL_TEXT,
    MODEL,
    MODES,
    OPERATION,
    USER,
    send,
    send_async,
)

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")


def assert_exact_call(
    sink: CallRecorder, server: LLMTestServer, mode: str, *, output_tokens: int = 12
) -> None:
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "ollama",
        OPERATION[mode],
        MODEL,
        MODEL,
    )
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        4,
        0,
        output_tokens,
        0,
    )
    # A local model is priced at zero, not unknown; token budgets still apply.
    assert (call.cost, call.usage_estimated, call.error_type) == (0.0, False, None)
    assert call.cost is not None
    assert (call.server_address, call.server_port) == ("127.0.0.1", server.port)
    streamed = mode.endswith("_stream")
    assert (call.streamed, call.chunks) == (streamed, output_tokens if streamed else 0)
    assert server.request_count == 1


@pytest.mark.parametrize("mode", MODES)
def test_sync(mode: str, client: ollama.Client, server: LLMTestServer, sink: CallRecorder) -> None:
    assert send(client, mode) == FULL_TEXT
    assert_exact_call(sink, server, mode)
    assert sink.only.finish_reasons == ("stop",)
    assert sink.only.max_output_tokens is None


@pytest.mark.parametrize("mode", MODES)
async def test_async(
    mode: str, async_client: ollama.AsyncClient, server: LLMTestServer, sink: CallRecorder
) -> None:
    assert await send_async(async_client, mode) == FULL_TEXT
    assert_exact_call(sink, server, mode)


@pytest.mark.parametrize("mode", MODES)
def test_num_predict_is_the_output_cap(
    mode: str, client: ollama.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    assert send(client, mode, num_predict=3) == "Hello from the"
    assert_exact_call(sink, server, mode, output_tokens=3)
    assert (sink.only.max_output_tokens, sink.only.finish_reasons) == (3, ("length",))


def test_a_negative_num_predict_caps_nothing(client: ollama.Client, sink: CallRecorder) -> None:
    send(client, "chat", num_predict=-1)
    assert (sink.only.max_output_tokens, sink.only.output_tokens) == (None, 12)


def test_embed(client: ollama.Client, server: LLMTestServer, sink: CallRecorder) -> None:
    response = client.embed(model=EMBED_MODEL, input=EMBED_INPUTS)
    assert [len(vector) for vector in response.embeddings] == [8, 8]
    [call] = sink.ended
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "ollama",
        "embeddings",
        EMBED_MODEL,
        EMBED_MODEL,
    )
    assert (call.input_tokens, call.output_tokens, call.cost, call.usage_estimated) == (5, 0, 0.0, False)
    assert (call.max_output_tokens, server.request_count) == (0, 1)


async def test_async_embed(async_client: ollama.AsyncClient, sink: CallRecorder) -> None:
    await async_client.embed(model=EMBED_MODEL, input="one two three")
    assert (sink.only.operation, sink.only.input_tokens, sink.only.cost) == ("embeddings", 3, 0.0)


@pytest.fixture
def module_client(server: LLMTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # ollama.chat & co. are methods of a Client the package built at import: point that one at the server.
    monkeypatch.setattr(ollama.chat.__self__._client, "base_url", server.ollama_base_url)


@pytest.mark.usefixtures("module_client")
def test_module_level_functions(server: LLMTestServer, sink: CallRecorder) -> None:
    ollama.chat(model=MODEL, messages=USER)
    for _ in ollama.generate(model=MODEL, prompt="How are you today", stream=True):
        pass
    ollama.embed(model=EMBED_MODEL, input=EMBED_INPUTS)
    assert [(call.operation, call.input_tokens, call.output_tokens) for call in sink.ended] == [
        ("chat", 4, 12),
        ("text_completion", 4, 12),
        ("embeddings", 5, 0),
    ]
    assert server.request_count == 3


def test_other_requests_pass_through_uncounted(client: ollama.Client, sink: CallRecorder) -> None:
    with pytest.raises(ollama.ResponseError):
        client.list()  # not a model call: the test server does not know /api/tags
    assert sink.ended == []


def test_results_are_identical_to_an_uninstrumented_run(client: ollama.Client) -> None:
    def run() -> list[Any]:
        return [
            client.chat(model=MODEL, messages=USER).model_dump(),
            [part.model_dump() for part in client.generate(model=MODEL, prompt="hi", stream=True)],
            client.embed(model=EMBED_MODEL, input=EMBED_INPUTS).model_dump(),
        ]

    instrumented = run()
    synapsekit.uninstrument("ollama")
    try:
        assert run() == instrumented
    finally:
        synapsekit.instrument("ollama")


def test_token_budget_counts_and_tally(client: ollama.Client) -> None:
    with synapsekit.budget(max_tokens=100_000) as scope, synapsekit.track() as tally:
        for mode in MODES:
            send(client, mode)
    assert tally.tokens == {"input": 16, "output": 48, "total": 64}
    assert (tally.calls, tally.cost_usd, tally.estimated_calls) == (4, 0.0, 0)
    assert scope.spent_tokens == 64

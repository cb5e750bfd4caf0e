"""Concurrent requests from threads and asyncio tasks: each counted once, into the scopes that sent it."""

from __future__ import annotations

import asyncio

import pytest
from _gemini_testkit import HAS_RESPONSE_ID, MODEL, PROMPT, config, gemini_client, vertex_client
from google import genai

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

CALLS = 60


def headers(index: int) -> dict[str, str]:
    return {"x-test-output-tokens": str(index % 7 + 1), "x-test-cached-tokens": str(index % 3)}


def one_call(client: genai.Client, index: int) -> tuple[int, int, int]:
    with synapsekit.track() as own:
        if index % 2:
            client.models.generate_content(model=MODEL, contents=PROMPT, config=config(headers(index)))
        else:
            for _ in client.models.generate_content_stream(
                model=MODEL, contents=PROMPT, config=config(headers(index))
            ):
                pass
    return own.calls, own.output_tokens, own.cached_input_tokens


def expected(index: int) -> tuple[int, int, int]:
    return 1, index % 7 + 1, index % 3


def test_threads(server: LLMTestServer, sink: CallRecorder) -> None:
    clients = [gemini_client(server), vertex_client(server)]
    with synapsekit.track() as everything, synapsekit.ContextThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: one_call(clients[i % 2], i), range(CALLS)))
    assert results == [expected(index) for index in range(CALLS)]
    assert (everything.calls, everything.input_tokens) == (CALLS, 4 * CALLS)
    assert everything.output_tokens == sum(index % 7 + 1 for index in range(CALLS))
    assert len(sink.ended) == CALLS
    assert sorted(call.provider for call in sink.ended) == ["gcp.gemini"] * (CALLS // 2) + [
        "gcp.vertex_ai"
    ] * (CALLS // 2)


async def one_async_call(client: genai.Client, index: int) -> tuple[int, int, int]:
    with synapsekit.track() as own:
        if index % 2:
            await client.aio.models.generate_content(
                model=MODEL, contents=PROMPT, config=config(headers(index))
            )
        else:
            stream = await client.aio.models.generate_content_stream(
                model=MODEL, contents=PROMPT, config=config(headers(index))
            )
            async for _ in stream:
                pass
    return own.calls, own.output_tokens, own.cached_input_tokens


async def test_asyncio_tasks(server: LLMTestServer, sink: CallRecorder) -> None:
    client = gemini_client(server)
    with synapsekit.track() as everything:
        results = await asyncio.gather(*(one_async_call(client, index) for index in range(CALLS)))
    assert list(results) == [expected(index) for index in range(CALLS)]
    assert (everything.calls, everything.estimated_calls, everything.failed_calls) == (CALLS, 0, 0)
    assert everything.cached_input_tokens == sum(index % 3 for index in range(CALLS))
    assert len(sink.ended) == CALLS
    if HAS_RESPONSE_ID:
        assert len({call.response_id for call in sink.ended}) == CALLS

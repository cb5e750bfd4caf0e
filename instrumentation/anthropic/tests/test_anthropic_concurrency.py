"""100 concurrent async requests: every one counted once, into the scopes of the task that sent it."""

from __future__ import annotations

import asyncio

import anthropic
import httpx2
import pytest
from _anthropic_testkit import RecordingSink, request

import synapsekit
from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

CALLS = 100


async def one_call(client: anthropic.AsyncAnthropic, index: int) -> tuple[int, int]:
    output_tokens = index % 20 + 1
    headers = {"x-test-output-tokens": str(output_tokens), "x-test-cached-tokens": str(index % 5)}
    with synapsekit.track() as own:
        if index % 3 == 0:
            await client.messages.create(**request(extra_headers=headers))
        elif index % 3 == 1:
            async for _ in await client.messages.create(stream=True, **request(extra_headers=headers)):
                pass
        else:
            async with client.messages.stream(**request(extra_headers=headers)) as stream:
                await stream.until_done()
    return own.output_tokens, own.cached_input_tokens


async def test_hundred_concurrent_calls(server: LLMTestServer, sink: RecordingSink) -> None:
    # All 100 requests are in flight together; a small pool keeps the test server's listen backlog happy.
    pool = anthropic.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=10))
    async with anthropic.AsyncAnthropic(
        base_url=server.anthropic_base_url, api_key="k", max_retries=0, http_client=pool
    ) as client:
        with synapsekit.track() as everything:
            results = await asyncio.gather(*(one_call(client, index) for index in range(CALLS)))
    assert results == [(index % 20 + 1, index % 5) for index in range(CALLS)]
    expected_output = sum(index % 20 + 1 for index in range(CALLS))
    assert everything.tokens == {
        "input": 7 * CALLS,
        "output": expected_output,
        "total": 7 * CALLS + expected_output,
    }
    assert (everything.calls, everything.estimated_calls, everything.failed_calls) == (CALLS, 0, 0)
    assert everything.cached_input_tokens == sum(index % 5 for index in range(CALLS))
    assert len(sink.ended) == CALLS
    assert len({call.response_id for call in sink.ended}) == CALLS

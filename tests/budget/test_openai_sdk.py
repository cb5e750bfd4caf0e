"""Budgets around the real openai SDK (instrumented) talking HTTP to the local test server."""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit._budget import BudgetWarning, CircuitState, budget
from synapsekit._pricing.prices import UnknownModelPriceWarning
from synapsekit.testing import LLMTestServer

from ._support import MODEL, nano, prompt_of, until_requests, usd

MESSAGES: list[Any] = [{"role": "user", "content": prompt_of(3)}]
CALL = nano(3, 5)


@pytest.fixture(autouse=True)
def _instrumented() -> Iterator[None]:
    synapsekit.instrument("openai")
    yield
    synapsekit.uninstrument("openai")


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0) as sdk:
        yield sdk


def test_a_refused_request_never_reaches_the_server(server: LLMTestServer, client: openai.OpenAI) -> None:
    with budget(max_cost_usd=usd(CALL)) as scope:
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)
        assert reply.usage is not None
        assert reply.usage.completion_tokens == 5
        with pytest.raises(BudgetExceeded) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert (caught.value.spent, caught.value.limit) == (usd(CALL), usd(CALL))
    assert server.request_count == 1
    assert (scope.spent_usd, scope.circuit_state) == (usd(CALL), CircuitState.OPEN)


def test_a_stream_is_cut_and_its_http_response_closed(server: LLMTestServer, client: openai.OpenAI) -> None:
    received: list[str] = []
    with budget(max_cost_usd=usd(nano(3, 6)), default_max_output_tokens=2) as scope:
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(BudgetExceeded, match="the stream was cut"):
            received.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert [text for text in received if text] == ["Hello", " from", " the"]
    assert stream.response.is_closed
    assert (scope.spent_usd, scope.reserved_usd) == (usd(nano(3, 7)), 0.0)
    assert server.request_count == 1


async def test_concurrent_async_calls_only_the_fitting_ones_are_sent(server: LLMTestServer) -> None:
    fitting = 9
    http_client = openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=4))
    sdk = openai.AsyncOpenAI(
        base_url=server.openai_base_url, api_key="test", max_retries=0, http_client=http_client
    )
    scope = budget(max_cost_usd=usd(fitting * CALL))

    async def one() -> Any:
        async with scope:
            return await sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)

    try:
        results = await asyncio.gather(*(one() for _ in range(200)), return_exceptions=True)
    finally:
        await sdk.close()
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert (len(results) - len(refused), len(refused)) == (fitting, 200 - fitting)
    assert server.request_count == fitting
    assert (scope.totals().spent_nano, scope.totals().reserved_nano) == (fitting * CALL, 0)


async def test_cancelling_an_sdk_call_releases_its_reservation(server: LLMTestServer) -> None:
    sdk = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
    try:
        with budget(max_cost_usd=usd(CALL)) as scope:
            task = asyncio.create_task(
                sdk.chat.completions.create(
                    model=MODEL, messages=MESSAGES, max_tokens=5, extra_headers={"x-test-latency-ms": "3000"}
                )
            )
            await until_requests(server, 1)
            assert scope.reserved_usd == usd(CALL)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (scope.spent_usd, scope.reserved_usd) == (0.0, 0.0)
            await sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)
        assert scope.spent_usd == usd(CALL)
    finally:
        await sdk.close()


def test_warnings_name_the_line_that_made_the_request(client: openai.OpenAI) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with budget(max_cost_usd=usd(CALL - 1), on_exceeded="warn"):
            unknown_price = sys._getframe().f_lineno + 1
            client.chat.completions.create(model="mystery-model-sdk", messages=MESSAGES, max_tokens=5)
            over_limit = sys._getframe().f_lineno + 1
            client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert [(w.category, w.filename, w.lineno) for w in caught] == [
        (UnknownModelPriceWarning, __file__, unknown_price),
        (BudgetWarning, __file__, over_limit),
    ]


async def test_warnings_name_the_line_that_made_an_async_request(server: LLMTestServer) -> None:
    sdk = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with budget(max_cost_usd=usd(CALL - 1), on_exceeded="warn"):
                line = sys._getframe().f_lineno + 1
                await sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)
    finally:
        await sdk.close()
    assert [(w.category, w.filename, w.lineno) for w in caught] == [(BudgetWarning, __file__, line)]

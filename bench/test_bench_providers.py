"""Accounting overhead of one non-streamed call for the mistralai, ollama and cohere instrumentors.

Each SDK talks to a mock transport returning a canned body, so what is measured is the SDK's own work plus
synapsekit's, without a network: the bare SDK and the instrumented one in the same run, one group per client.
mistralai builds pydantic models for its request and response types on every call (15-30 ms per call on a
2-core machine), so that group's difference is mostly noise around synapsekit's few tens of microseconds.

Run: ``uv run --frozen pytest bench/test_bench_providers.py --benchmark-enable``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import cohere
import httpx
import httpx2
import ollama
import pytest
from mistralai.client import Mistral
from pytest_benchmark.fixture import BenchmarkFixture

import synapsekit

MESSAGES: list[Any] = [{"role": "user", "content": "one two three four five"}]

MISTRAL_BODY = json.dumps(
    {
        "id": "bench",
        "object": "chat.completion",
        "model": "mistral-small-latest",
        "created": 1,
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}
        ],
    }
).encode()
OLLAMA_BODY = json.dumps(
    {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "Hello there"},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 5,
        "eval_count": 2,
    }
).encode()
COHERE_BODY = json.dumps(
    {
        "id": "bench",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello there"}]},
        "finish_reason": "COMPLETE",
        "usage": {
            "billed_units": {"input_tokens": 5, "output_tokens": 2},
            "tokens": {"input_tokens": 69, "output_tokens": 3},
        },
    }
).encode()
JSON_HEADERS = {"content-type": "application/json"}


@pytest.fixture(scope="module", autouse=True)
def _warm_pricing() -> None:
    # Load the price data outside the measurement (a one-off per process, then a cached lookup).
    from synapsekit._pricing.prices import compute_cost

    compute_cost("mistral_ai", "mistral-small-latest", input_tokens=1, output_tokens=1)
    compute_cost("ollama", "llama3.2", input_tokens=1, output_tokens=1)
    compute_cost("cohere", "command-r", input_tokens=1, output_tokens=1)


def _variant(request: pytest.FixtureRequest, instrumentor: str) -> Iterator[str]:
    if request.param == "synapsekit":
        synapsekit.instrument(instrumentor)
    yield request.param
    synapsekit.uninstrument(instrumentor)


@pytest.fixture(params=["bare_sdk", "synapsekit"])
def mistral_variant(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _variant(request, "mistralai")


@pytest.fixture(params=["bare_sdk", "synapsekit"])
def ollama_variant(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _variant(request, "ollama")


@pytest.fixture(params=["bare_sdk", "synapsekit"])
def cohere_variant(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _variant(request, "cohere")


def _answer(body: bytes, response: Callable[..., Any]) -> Callable[[Any], Any]:
    return lambda request: response(200, headers=JSON_HEADERS, content=body)


@pytest.mark.benchmark(group="mistralai-per-call", min_rounds=100, warmup=True)
def test_mistralai_complete(benchmark: BenchmarkFixture, mistral_variant: str) -> None:
    http = httpx2.Client(transport=httpx2.MockTransport(_answer(MISTRAL_BODY, httpx2.Response)))
    with Mistral(api_key="bench", server_url="http://bench.invalid", client=http) as client:
        response = benchmark(lambda: client.chat.complete(model="mistral-small-latest", messages=MESSAGES))
    assert response.usage is not None and response.usage.completion_tokens == 2


@pytest.mark.benchmark(group="ollama-per-call", min_rounds=100, warmup=True)
def test_ollama_chat(benchmark: BenchmarkFixture, ollama_variant: str) -> None:
    client = ollama.Client(
        host="http://bench.invalid", transport=httpx.MockTransport(_answer(OLLAMA_BODY, httpx.Response))
    )
    response = benchmark(lambda: client.chat(model="llama3.2", messages=MESSAGES))
    assert response.eval_count == 2


@pytest.mark.benchmark(group="cohere-per-call", min_rounds=100, warmup=True)
def test_cohere_chat(benchmark: BenchmarkFixture, cohere_variant: str) -> None:
    with httpx.Client(transport=httpx.MockTransport(_answer(COHERE_BODY, httpx.Response))) as http:
        client = cohere.ClientV2(api_key="bench", base_url="http://bench.invalid", httpx_client=http)
        response = benchmark(lambda: client.chat(model="command-r", messages=MESSAGES))
    assert response.usage is not None and response.usage.billed_units is not None

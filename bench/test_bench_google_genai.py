"""google-genai instrumentation overhead: the bare SDK against the instrumented one, in the same run.

The SDK talks to an ``httpx2.MockTransport`` returning canned bodies (``client_args={"transport": ...}``),
so what is measured is the SDK's own work plus synapsekit's, without a network. Per-call: one plain
``models.generate_content``. Per-chunk: a stream of ``STREAM_CHUNKS`` chunks read to the end (divide the
difference of the two means by it).

Run: ``uv run --frozen pytest bench/test_bench_google_genai.py --benchmark-enable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from google import genai
from pytest_benchmark.fixture import BenchmarkFixture

import synapsekit

MODEL = "gemini-2.5-flash"
STREAM_CHUNKS = 200
PROMPT_USAGE = {"promptTokenCount": 5, "cachedContentTokenCount": 3, "totalTokenCount": 5}


def _response(text: str, usage: dict[str, int], finish_reason: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish_reason:
        candidate["finishReason"] = finish_reason
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": MODEL, "responseId": "bench"}


FINAL_USAGE = {**PROMPT_USAGE, "candidatesTokenCount": 2, "thoughtsTokenCount": 1, "totalTokenCount": 8}
RESPONSE_BODY = json.dumps(_response("Hello there", FINAL_USAGE, "STOP")).encode()
STREAM_BODY = "".join(
    [
        *(f"data: {json.dumps(_response(' word', PROMPT_USAGE))}\r\n\r\n" for _ in range(STREAM_CHUNKS)),
        f"data: {json.dumps(_response('', {**FINAL_USAGE, 'candidatesTokenCount': STREAM_CHUNKS}, 'STOP'))}\r\n\r\n",
    ]
).encode()


def _answer(request: httpx2.Request) -> httpx2.Response:
    if ":streamGenerateContent" in request.url.path:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM_BODY)
    return httpx2.Response(200, headers={"content-type": "application/json"}, content=RESPONSE_BODY)


@pytest.fixture
def client() -> Iterator[genai.Client]:
    sdk = genai.Client(
        api_key="bench",
        http_options={
            "base_url": "http://bench.invalid",
            "client_args": {"transport": httpx2.MockTransport(_answer)},
        },
    )
    yield sdk
    sdk.close()


@pytest.fixture(scope="module", autouse=True)
def _warm_pricing() -> None:
    # Load the price data outside the measurement (a one-off per process, then a cached lookup).
    from synapsekit._pricing.prices import compute_cost

    compute_cost("gcp.gemini", MODEL, input_tokens=1, output_tokens=1)


@pytest.fixture(params=["bare_sdk", "synapsekit"])
def variant(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "synapsekit":
        synapsekit.instrument("google-genai")
    yield request.param
    synapsekit.uninstrument("google-genai")


@pytest.mark.benchmark(group="google-genai-per-call", min_rounds=100, warmup=True)
def test_generate_content(benchmark: BenchmarkFixture, client: genai.Client, variant: str) -> None:
    response = benchmark(lambda: client.models.generate_content(model=MODEL, contents="one two three"))
    assert response.usage_metadata is not None
    assert response.usage_metadata.candidates_token_count == 2


@pytest.mark.benchmark(group="google-genai-per-chunk", min_rounds=100, warmup=True)
def test_generate_content_stream(benchmark: BenchmarkFixture, client: genai.Client, variant: str) -> None:
    def read_stream() -> int:
        return sum(1 for _ in client.models.generate_content_stream(model=MODEL, contents="one two three"))

    assert benchmark(read_stream) == STREAM_CHUNKS + 1

"""OpenAI instrumentation overhead: the bare SDK against the instrumented one, in the same run.

The SDK talks to an ``httpx2.MockTransport`` returning canned bodies, so what is measured is the SDK's own
work plus synapsekit's accounting (no OpenTelemetry SDK installed, so no spans), without a network.
Per-call: one non-streamed ``chat.completions.create``. Per-chunk: a stream of ``STREAM_CHUNKS`` content
chunks read to the end (divide the difference of the two means by it). The mock answers like the API: the
usage chunk is sent only when the request asks for it (the instrumented run does, on the caller's behalf).

Run: ``uv run --frozen pytest bench/test_bench_openai.py --benchmark-enable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import synapsekit

MODEL = "gpt-4o-mini"
STREAM_CHUNKS = 50
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "one two three four five"}],
}
USAGE = {
    "prompt_tokens": 5,
    "completion_tokens": STREAM_CHUNKS,
    "total_tokens": 5 + STREAM_CHUNKS,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}

COMPLETION_BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": USAGE,
    }
).encode()


def _chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> str:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": choices,
        "usage": usage,
    }
    return f"data: {json.dumps(body)}\n\n"


def _delta(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]


STREAM_CHUNKS_SSE = "".join(
    [
        _chunk(_delta({"role": "assistant", "content": ""})),
        *(_chunk(_delta({"content": " word"})) for _ in range(STREAM_CHUNKS)),
        _chunk(_delta({}, "stop")),
    ]
)
STREAM_BODY = (STREAM_CHUNKS_SSE + "data: [DONE]\n\n").encode()
STREAM_BODY_WITH_USAGE = (STREAM_CHUNKS_SSE + _chunk([], USAGE) + "data: [DONE]\n\n").encode()


def _answer(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if body.get("stream"):
        with_usage = (body.get("stream_options") or {}).get("include_usage")
        content = STREAM_BODY_WITH_USAGE if with_usage else STREAM_BODY
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=content)
    return httpx2.Response(200, headers={"content-type": "application/json"}, content=COMPLETION_BODY)


@pytest.fixture
def client() -> Iterator[openai.OpenAI]:
    http_client = httpx2.Client(transport=httpx2.MockTransport(_answer))
    with openai.OpenAI(
        api_key="bench", base_url="http://bench.invalid/v1", max_retries=0, http_client=http_client
    ) as sdk:
        yield sdk


@pytest.fixture(scope="module", autouse=True)
def _warm_pricing() -> None:
    # Load the price data outside the measurement (a one-off per process, then a cached lookup).
    from synapsekit._pricing import compute_cost

    compute_cost("openai", MODEL, input_tokens=1, output_tokens=1)


@pytest.fixture(params=["bare_sdk", "synapsekit"])
def variant(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "synapsekit":
        synapsekit.instrument("openai")
    yield request.param
    synapsekit.uninstrument("openai")


@pytest.mark.benchmark(group="openai-per-call", min_rounds=200, warmup=True)
def test_create(benchmark: BenchmarkFixture, client: openai.OpenAI, variant: str) -> None:
    completion = benchmark(lambda: client.chat.completions.create(**REQUEST))
    assert completion.usage is not None
    assert completion.usage.completion_tokens == STREAM_CHUNKS


@pytest.mark.benchmark(group="openai-per-chunk", min_rounds=200, warmup=True)
def test_stream(benchmark: BenchmarkFixture, client: openai.OpenAI, variant: str) -> None:
    def read_stream() -> int:
        return sum(
            1
            for chunk in client.chat.completions.create(stream=True, **REQUEST)
            if chunk.choices and chunk.choices[0].delta.content == " word"
        )

    assert benchmark(read_stream) == STREAM_CHUNKS

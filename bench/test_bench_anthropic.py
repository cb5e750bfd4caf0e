"""Anthropic instrumentation overhead: the bare SDK against the instrumented one, in the same run.

The SDK talks to an ``httpx2.MockTransport`` returning canned bodies, so what is measured is the SDK's own
work plus synapsekit's, without a network. Per-call: one plain ``messages.create``. Per-chunk: a stream of
``STREAM_DELTAS`` text deltas read to the end (divide the difference of the two means by it).

Run: ``uv run --frozen pytest bench/test_bench_anthropic.py --benchmark-enable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import synapsekit

MODEL = "claude-haiku-4-5"
STREAM_DELTAS = 200
USAGE = {"input_tokens": 5, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "one two three four five"}],
}

MESSAGE_BODY = json.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "Hello there"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {**USAGE, "output_tokens": 2},
    }
).encode()


def _event(kind: str, payload: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n"


STREAM_BODY = "".join(
    [
        _event(
            "message_start",
            {
                "message": {
                    "id": "msg_bench",
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**USAGE, "output_tokens": 1},
                }
            },
        ),
        _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        *(
            _event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": " word"}})
            for _ in range(STREAM_DELTAS)
        ),
        _event("content_block_stop", {"index": 0}),
        _event(
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": STREAM_DELTAS},
            },
        ),
        _event("message_stop", {}),
    ]
).encode()


def _answer(request: httpx2.Request) -> httpx2.Response:
    if json.loads(request.content).get("stream"):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM_BODY)
    return httpx2.Response(200, headers={"content-type": "application/json"}, content=MESSAGE_BODY)


@pytest.fixture
def client() -> Iterator[anthropic.Anthropic]:
    http_client = httpx2.Client(transport=httpx2.MockTransport(_answer))
    with anthropic.Anthropic(
        api_key="bench", base_url="http://bench.invalid", max_retries=0, http_client=http_client
    ) as sdk:
        yield sdk


@pytest.fixture(scope="module", autouse=True)
def _warm_pricing() -> None:
    # Load the price data outside the measurement (a one-off per process, then a cached lookup).
    from synapsekit._pricing.prices import compute_cost

    compute_cost("anthropic", MODEL, input_tokens=1, output_tokens=1)


@pytest.fixture(params=["bare_sdk", "synapsekit"])
def variant(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "synapsekit":
        synapsekit.instrument("anthropic")
    yield request.param
    synapsekit.uninstrument("anthropic")


@pytest.mark.benchmark(group="anthropic-per-call", min_rounds=100, warmup=True)
def test_create(benchmark: BenchmarkFixture, client: anthropic.Anthropic, variant: str) -> None:
    message = benchmark(lambda: client.messages.create(**REQUEST))
    assert message.usage.output_tokens == 2


@pytest.mark.benchmark(group="anthropic-per-chunk", min_rounds=100, warmup=True)
def test_stream(benchmark: BenchmarkFixture, client: anthropic.Anthropic, variant: str) -> None:
    def read_stream() -> int:
        return sum(
            1
            for event in client.messages.create(stream=True, **REQUEST)
            if event.type == "content_block_delta"
        )

    assert benchmark(read_stream) == STREAM_DELTAS


@pytest.mark.benchmark(group="anthropic-stream-manager", min_rounds=100, warmup=True)
def test_stream_manager(benchmark: BenchmarkFixture, client: anthropic.Anthropic, variant: str) -> None:
    def read_text() -> str:
        with client.messages.stream(**REQUEST) as stream:
            return "".join(stream.text_stream)

    assert benchmark(read_text) == " word" * STREAM_DELTAS

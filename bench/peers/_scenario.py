"""The workload every peer runs, in its own virtualenv: openai 2.x over an in-process ``httpx.MockTransport``.

Imports only the standard library, ``openai`` and ``httpx`` (a peer's venv has no synapsekit unless the peer
is synapsekit). A peer script sets its instrumentation up, then calls :func:`main`, which measures

- ``call``: one non-streamed ``chat.completions.create`` (median µs per call over rounds of calls), and
- ``stream``: one 50-chunk stream read to the end (median µs per stream),

and prints one JSON line: the timings, the versions of the peer's distributions and the spans its
instrumentation produced per call (so a peer that silently did nothing shows up as 0).
``--callgrind N M`` instead runs warm-up, N calls, M calls, N streams, M streams, separated by
:func:`os.getppid` calls on which the runner's ``valgrind --dump-before=getppid`` dumps its counters.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

# httpx (openai 2.x's transport) is installed in the peers' venvs, not in the workspace's.
import httpx  # type: ignore[import-not-found,unused-ignore]
import openai
from _dropping import DroppingSpanExporter, dropping_tracer_provider

MODEL = "gpt-4o-mini"
STREAM_CHUNKS = 50
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "one two three four five"}],
}
_USAGE = {
    "prompt_tokens": 5,
    "completion_tokens": 12,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}


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


COMPLETION_BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there, this is a canned answer."},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _USAGE,
    }
).encode()
_CHUNKS = "".join(
    [
        _chunk(_delta({"role": "assistant", "content": ""})),
        *(_chunk(_delta({"content": " word"})) for _ in range(STREAM_CHUNKS)),
        _chunk(_delta({}, "stop")),
    ]
)
STREAM_BODY = (_CHUNKS + "data: [DONE]\n\n").encode()
STREAM_BODY_WITH_USAGE = (
    _CHUNKS
    + _chunk([], {**_USAGE, "completion_tokens": STREAM_CHUNKS, "total_tokens": 55})
    + "data: [DONE]\n\n"
).encode()


def answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    if body.get("stream"):
        with_usage = (body.get("stream_options") or {}).get("include_usage")
        content = STREAM_BODY_WITH_USAGE if with_usage else STREAM_BODY
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=content)
    return httpx.Response(200, headers={"content-type": "application/json"}, content=COMPLETION_BODY)


def make_client() -> openai.OpenAI:
    http_client = httpx.Client(transport=httpx.MockTransport(answer))
    return openai.OpenAI(
        api_key="bench", base_url="http://bench.invalid/v1", max_retries=0, http_client=http_client
    )


def call(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(**REQUEST)
    assert completion.usage is not None and completion.usage.completion_tokens == 12


def stream(client: openai.OpenAI) -> None:
    seen = sum(
        1
        for chunk in client.chat.completions.create(stream=True, **REQUEST)
        if chunk.choices and chunk.choices[0].delta.content == " word"
    )
    assert seen == STREAM_CHUNKS, seen


# -- span counting (OpenTelemetry peers) ----------------------------------------------------------------
def install_dropping_tracer_provider() -> tuple[Any, DroppingSpanExporter]:
    """:func:`dropping_tracer_provider`, installed as the global tracer provider."""
    from opentelemetry import trace

    provider, exporter = dropping_tracer_provider()
    trace.set_tracer_provider(provider)
    return provider, exporter


# -- measurement ------------------------------------------------------------------------------------------
def _median_us(operation: Callable[[], None], rounds: int, per_round: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(per_round):
            operation()
        samples.append((time.perf_counter_ns() - start) / per_round / 1000)
    return statistics.median(samples)


def _versions(distributions: Sequence[str]) -> dict[str, str]:
    found = {}
    for name in ("openai", "httpx", *distributions):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def main(
    peer: str,
    *,
    distributions: Sequence[str] = (),
    exporter: DroppingSpanExporter | None = None,
    flush: Callable[[], object] | None = None,
    around: AbstractContextManager[Any] | None = None,
    notes: str = "",
) -> None:
    """Measure and print one JSON line. ``around`` is entered around all calls (a budget scope, say)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--calls-per-round", type=int, default=100)
    parser.add_argument("--streams-per-round", type=int, default=10)
    parser.add_argument("--callgrind", type=int, nargs=2, metavar=("N", "M"))
    args = parser.parse_args()
    client = make_client()
    with around if around is not None else nullcontext():
        if args.callgrind:
            _callgrind_phases(client, *args.callgrind)
            return
        for _ in range(200):
            call(client)
        for _ in range(20):
            stream(client)
        before = exporter.exported if exporter is not None else 0
        if flush is not None:
            flush()
            before = exporter.exported if exporter is not None else 0
        call_us = _median_us(lambda: call(client), args.rounds, args.calls_per_round)
        stream_us = _median_us(lambda: stream(client), args.rounds, args.streams_per_round)
    spans_per_call = None
    if exporter is not None and flush is not None:
        flush()
        measured = args.rounds * (args.calls_per_round + args.streams_per_round)
        spans_per_call = round((exporter.exported - before) / measured, 3)
    result = {
        "peer": peer,
        "python": sys.version.split()[0],
        "versions": _versions(distributions),
        "call_us": round(call_us, 2),
        "stream_us": round(stream_us, 2),
        "spans_per_call": spans_per_call,
        "notes": notes,
    }
    print(json.dumps(result), flush=True)


def _callgrind_phases(client: openai.OpenAI, n: int, m: int) -> None:
    for _ in range(50):
        call(client)
    for _ in range(5):
        stream(client)
    # Same as bench/callgrind/driver.py: the start-up heap leaves the collector's generations, so a full
    # collection landing inside a measured phase costs what the calls allocated, not what the imports did.
    gc.collect()
    gc.freeze()
    for phase_operation, count in ((call, n), (call, m), (stream, n // 10), (stream, m // 10)):
        os.getppid()  # callgrind dumps here: the counters since the previous marker are one phase
        for _ in range(count):
            phase_operation(client)
    os.getppid()

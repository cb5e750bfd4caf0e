"""Core overhead: ``@traced`` against the undecorated function, and one LLM-call lifecycle.

Run: ``nox -s bench`` (or ``uv run pytest bench/test_bench_core.py --benchmark-enable``). Each group holds its
baseline, so the overhead is the difference of the two medians in the same run. "no SDK" means no
OpenTelemetry tracer provider is installed (accounting only); the "sdk" variants install one with a
BatchSpanProcessor exporting nowhere.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import synapsekit
from synapsekit._core.call import start_call


def plain(x: int) -> int:
    return x + 1


traced_plain = synapsekit.traced(plain)


async def plain_async(x: int) -> int:
    return x + 1


traced_async = synapsekit.traced(plain_async)


@pytest.mark.benchmark(group="traced-sync")
def test_baseline_undecorated(benchmark: Any) -> None:
    benchmark(plain, 1)


@pytest.mark.benchmark(group="traced-sync")
def test_traced_no_sdk(benchmark: Any) -> None:
    benchmark(traced_plain, 1)


@pytest.mark.benchmark(group="traced-async")
def test_baseline_undecorated_async(benchmark: Any) -> None:
    loop = asyncio.new_event_loop()
    benchmark(lambda: loop.run_until_complete(plain_async(1)))
    loop.close()


@pytest.mark.benchmark(group="traced-async")
def test_traced_async_no_sdk(benchmark: Any) -> None:
    loop = asyncio.new_event_loop()
    benchmark(lambda: loop.run_until_complete(traced_async(1)))
    loop.close()


def _lifecycle() -> None:
    call = start_call("openai", "chat", "gpt-4o-mini", server_address="api.openai.com")
    with call:
        pass
    call.record_usage(input_tokens=120, output_tokens=40, cached_input_tokens=20)
    call.record_response(model="gpt-4o-mini-2024-07-18", response_id="chatcmpl-1", finish_reasons=("stop",))
    call.finish()


def _baseline_record() -> None:
    # What any accounting must do at minimum: build a record of the same fields.
    record = {"provider": "openai", "operation": "chat", "model": "gpt-4o-mini", "server": "api.openai.com"}
    record.update(input_tokens=120, output_tokens=40, cached=20, response_model="gpt-4o-mini-2024-07-18")


@pytest.mark.benchmark(group="llm-call-lifecycle")
def test_baseline_plain_record(benchmark: Any) -> None:
    benchmark(_baseline_record)


@pytest.mark.benchmark(group="llm-call-lifecycle")
def test_lifecycle_no_scope(benchmark: Any) -> None:
    # Nothing reads the cost here, so no pricing happens: the bare lifecycle.
    benchmark(_lifecycle)


@pytest.mark.benchmark(group="llm-call-lifecycle")
def test_lifecycle_inside_track(benchmark: Any) -> None:
    with synapsekit.track():
        _lifecycle()  # warm the price cache: the first lookup is measured in bench_pricing
        benchmark(_lifecycle)

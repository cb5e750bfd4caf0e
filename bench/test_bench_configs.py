"""Published overhead: every group in the three configurations, against its uninstrumented baseline, one run.

Configurations (see ``_configs.py``): ``baseline`` (the bare openai SDK over an ``httpx2.MockTransport``, or
the undecorated function), ``accounting`` (instrumented, no tracing SDK), ``full`` (tracing SDK with a
batch processor exporting nowhere, cost, a budget scope, Prometheus attached) and ``disabled``
(instrumented then uninstrumented, ``PrometheusMetrics(enabled=False)``). Groups:

- ``config: openai call sync`` / ``async``: one non-streamed ``chat.completions.create``.
- ``config: openai stream 50 chunks``: one 50-chunk stream read to the end.
- ``config: @traced``: a one-line function, decorated (disabled = an SDK provider sampling nothing).
- ``config: budget admission`` / ``cost computation`` / ``metrics recording``: the sync call with the
  feature on top of the configuration (a budget scope / a ``track()`` scope, which prices every call / an
  attached ``PrometheusMetrics``); "full" always has all of them.
- ``budgets nested``: the sync call with no budget, then 1, 5 and 20 nested budgets (accounting).
- ``prompt size 1k`` / ``100k`` / ``1m``: the sync call with a prompt of that many bytes, bare and with
  one budget (whose input estimate reads the prompt's length).
- ``memory``: 100,000 ``OfflineLLM`` calls (the core lifecycle) and 10,000 instrumented SDK calls (against
  the bare SDK's own growth) in the accounting configuration, retained growth measured with tracemalloc.

The summary printed at the end of ``nox -s bench`` (bench/conftest.py) gives each variant's median, its
difference from the group's baseline and the ratio. Run alone:
``uv run --frozen pytest bench/test_bench_configs.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import os

import pytest
from _configs import (
    COMPLETION_TOKENS,
    CONFIGURATIONS,
    NESTED_BUDGETS,
    PROMPT_SIZES,
    STREAM_CHUNKS,
    Configuration,
    Feature,
    Setup,
    async_client,
    async_create_runner,
    configuration,
    create,
    read_stream,
    request_with_prompt,
    retained_growth,
    sync_client,
    traced_configuration,
)
from pytest_benchmark.fixture import BenchmarkFixture

ROUNDS = {"min_rounds": 100, "warmup": True}
# 100,000 by default (the published figure); lower it for a quick look: SYNAPSEKIT_BENCH_MEMORY_CALLS=10000.
MEMORY_CALLS = int(os.environ.get("SYNAPSEKIT_BENCH_MEMORY_CALLS", "100000"))
SDK_MEMORY_CALLS = int(os.environ.get("SYNAPSEKIT_BENCH_SDK_MEMORY_CALLS", "10000"))
# Tolerance for the interpreter's own noise (free lists, interned strings, a dict resize): far below a
# single retained call record per thousand calls.
MEMORY_NOISE_BYTES = 64 * 1024


def _check(setup: Setup, name: Configuration, feature: Feature) -> None:
    """The configuration did the work it is named after (a benchmark of a no-op would prove nothing)."""
    if name == "full":
        assert setup.budget is not None and setup.budget.spent_usd > 0
        assert setup.metrics is not None and b"synapsekit_tokens_total" in setup.metrics.expose()
    if name == "accounting" and feature in NESTED_BUDGETS:
        assert setup.budget is not None and setup.budget.spent_usd > 0
    if name == "accounting" and feature == "cost":
        assert setup.tally is not None and setup.tally.cost_usd > 0
    if name == "disabled":
        assert setup.metrics is not None and setup.metrics.expose() == b""
        assert setup.tally is None or setup.tally.calls == 0
        assert setup.budget is None or setup.budget.spent_usd == 0


def _bench_sync_call(benchmark: BenchmarkFixture, name: Configuration, feature: Feature) -> None:
    with configuration(name, feature) as setup:
        client = sync_client()
        assert benchmark(create, client) == COMPLETION_TOKENS
        _check(setup, name, feature)
        client.close()


@pytest.mark.benchmark(group="config: openai call sync", **ROUNDS)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_openai_call_sync(benchmark: BenchmarkFixture, name: Configuration) -> None:
    _bench_sync_call(benchmark, name, "none")


@pytest.mark.benchmark(group="config: openai call async", **ROUNDS)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_openai_call_async(benchmark: BenchmarkFixture, name: Configuration) -> None:
    with configuration(name) as setup:
        run, close = async_create_runner(async_client())
        try:
            assert benchmark(run) == COMPLETION_TOKENS
        finally:
            close()
        _check(setup, name, "none")


@pytest.mark.benchmark(group="config: openai stream 50 chunks", min_rounds=30, warmup=True)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_openai_stream(benchmark: BenchmarkFixture, name: Configuration) -> None:
    with configuration(name) as setup:
        client = sync_client()
        assert benchmark(read_stream, client) == STREAM_CHUNKS
        _check(setup, name, "none")
        client.close()


@pytest.mark.benchmark(group="config: @traced", **ROUNDS)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_traced(benchmark: BenchmarkFixture, name: Configuration) -> None:
    with traced_configuration(name) as function:
        assert benchmark(function, 1) == 2


@pytest.mark.benchmark(group="config: budget admission", **ROUNDS)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_budget_admission(benchmark: BenchmarkFixture, name: Configuration) -> None:
    _bench_sync_call(benchmark, name, "budget")


@pytest.mark.benchmark(group="config: cost computation", **ROUNDS)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_cost_computation(benchmark: BenchmarkFixture, name: Configuration) -> None:
    _bench_sync_call(benchmark, name, "cost")


@pytest.mark.benchmark(group="config: metrics recording", **ROUNDS)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_metrics_recording(benchmark: BenchmarkFixture, name: Configuration) -> None:
    _bench_sync_call(benchmark, name, "metrics")


@pytest.mark.benchmark(group="config: budgets nested", **ROUNDS)
@pytest.mark.parametrize(
    ("name", "feature"),
    [("baseline", "none"), ("accounting", "none"), *(("accounting", feature) for feature in NESTED_BUDGETS)],
)
def test_budgets_nested(benchmark: BenchmarkFixture, name: Configuration, feature: Feature) -> None:
    _bench_sync_call(benchmark, name, feature)


@pytest.mark.parametrize("size", list(PROMPT_SIZES))
@pytest.mark.parametrize("name", ["baseline", "accounting"])
def test_prompt_size(benchmark: BenchmarkFixture, name: Configuration, size: str) -> None:
    benchmark.group = f"config: prompt size {size.removeprefix('prompt_')}"
    request = request_with_prompt(PROMPT_SIZES[size])
    with configuration(name, "budget") as setup:
        client = sync_client()
        assert (
            benchmark.pedantic(  # type: ignore[no-untyped-call]
                create,
                args=(client, request),
                rounds=30 if PROMPT_SIZES[size] > 100_000 else 100,
                warmup_rounds=3,
            )
            == COMPLETION_TOKENS
        )
        _check(setup, name, "budget")
        client.close()


@pytest.mark.timeout(1800)
@pytest.mark.benchmark(group="memory: retained growth, accounting only")
def test_memory_offline_llm(benchmark: BenchmarkFixture) -> None:
    # One round: the figure that matters is the retained growth, kept in the JSON's extra_info.
    report = benchmark.pedantic(  # type: ignore[no-untyped-call]
        retained_growth, args=("offline_llm", MEMORY_CALLS), rounds=1, iterations=1
    )
    benchmark.extra_info.update(report.as_dict())
    print(f"\n{report}")
    assert report.calls == MEMORY_CALLS
    assert report.retained_bytes < MEMORY_NOISE_BYTES, report


@pytest.mark.timeout(1800)
@pytest.mark.benchmark(group="memory: retained growth, accounting only")
def test_memory_openai_sdk(benchmark: BenchmarkFixture) -> None:
    # The SDK and httpx2 retain a little themselves (a few bytes per call in re/urlparse), so the bare SDK
    # runs the same calls and synapsekit's share is the difference. Fewer calls: each is ~0.7 ms, ~3x
    # that under tracemalloc.
    bare = retained_growth("openai_sdk", SDK_MEMORY_CALLS, "baseline")
    report = benchmark.pedantic(  # type: ignore[no-untyped-call]
        retained_growth, args=("openai_sdk", SDK_MEMORY_CALLS), rounds=1, iterations=1
    )
    benchmark.extra_info.update(report.as_dict())
    benchmark.extra_info["bare_sdk_retained_bytes"] = bare.retained_bytes
    print(f"\n{bare}\n{report}")
    assert report.retained_bytes - bare.retained_bytes < MEMORY_NOISE_BYTES, (bare, report)


@pytest.mark.timeout(3600)
@pytest.mark.benchmark(group="memory: retained growth, full")
def test_memory_openai_sdk_full(benchmark: BenchmarkFixture) -> None:
    # Spans, a budget and Prometheus on every call. The BatchSpanProcessor holds the spans waiting for
    # export (bounded by its queue), so growth is checked at two call counts: it must not grow with them.
    calls = int(os.environ.get("SYNAPSEKIT_BENCH_FULL_MEMORY_CALLS", "100000"))
    shorter = retained_growth("openai_sdk", calls // 10, "full")
    report = benchmark.pedantic(  # type: ignore[no-untyped-call]
        retained_growth, args=("openai_sdk", calls, "full"), rounds=1, iterations=1
    )
    benchmark.extra_info.update(report.as_dict())
    benchmark.extra_info["retained_bytes_after_a_tenth"] = shorter.retained_bytes
    print(f"\n{shorter}\n{report}")
    assert report.retained_bytes - shorter.retained_bytes < MEMORY_NOISE_BYTES, (shorter, report)

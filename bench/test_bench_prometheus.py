"""PrometheusMetrics' per-call recording cost, each group against its no-metrics baseline in the same run.

Run: ``nox -s bench`` (or ``uv run pytest bench/test_bench_prometheus.py --benchmark-enable``).

- ``prometheus-on-call-end``: the sink hook alone, given a prepared (finished, priced) ``LLMCall``: a no-op
  sink (the baseline), ``PrometheusMetrics(enabled=False)`` and an enabled one.
- ``prometheus-lifecycle``: one whole LLM-call lifecycle with no sink attached, and with an attached
  ``PrometheusMetrics``.
- ``prometheus-record-llm``: the spec's explicit ``record_llm`` against an empty function with the same
  arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from synapsekit._core.call import LLMCall, start_call
from synapsekit._prometheus.metrics import PrometheusMetrics


def prepared_call() -> LLMCall:
    call = LLMCall("openai", "chat", "gpt-4o-mini", streamed=True)
    call.record_usage(input_tokens=120, output_tokens=40, cached_input_tokens=20, reasoning_tokens=8)
    call.record_response(model="gpt-4o-mini-2024-07-18")
    call.chunk("Hello")
    call.finish()
    assert call.cost is not None  # priced once here (the call caches it), as the first reader would
    return call


class NoOpSink:
    def on_call_start(self, call: LLMCall) -> None:
        pass

    def on_call_end(self, call: LLMCall) -> None:
        pass


@pytest.mark.benchmark(group="prometheus-on-call-end")
def test_baseline_no_op_sink(benchmark: Any) -> None:
    benchmark(NoOpSink().on_call_end, prepared_call())


@pytest.mark.benchmark(group="prometheus-on-call-end")
def test_on_call_end_disabled(benchmark: Any) -> None:
    benchmark(PrometheusMetrics(enabled=False).on_call_end, prepared_call())


@pytest.mark.benchmark(group="prometheus-on-call-end")
def test_on_call_end_enabled(benchmark: Any) -> None:
    benchmark(PrometheusMetrics().on_call_end, prepared_call())


def _lifecycle() -> None:
    call = start_call("openai", "chat", "gpt-4o-mini", server_address="api.openai.com")
    with call:
        pass
    call.record_usage(input_tokens=120, output_tokens=40, cached_input_tokens=20)
    call.record_response(model="gpt-4o-mini-2024-07-18")
    call.finish()


@pytest.fixture
def attached_metrics() -> Iterator[PrometheusMetrics]:
    metrics = PrometheusMetrics()
    metrics.attach()
    yield metrics
    metrics.close()


@pytest.mark.benchmark(group="prometheus-lifecycle")
def test_baseline_lifecycle_without_metrics(benchmark: Any) -> None:
    benchmark(_lifecycle)


@pytest.mark.benchmark(group="prometheus-lifecycle")
def test_lifecycle_with_prometheus_attached(benchmark: Any, attached_metrics: PrometheusMetrics) -> None:
    benchmark(_lifecycle)


def _empty_record_llm(
    *, model: str, provider: str, cost_usd: float | None, total_tokens: int | None, latency_ms: float | None
) -> None:
    pass


RECORD_ARGUMENTS: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "provider": "openai",
    "cost_usd": 0.000042,
    "total_tokens": 160,
    "latency_ms": 850.0,
}


@pytest.mark.benchmark(group="prometheus-record-llm")
def test_baseline_empty_function(benchmark: Any) -> None:
    benchmark(lambda: _empty_record_llm(**RECORD_ARGUMENTS))


@pytest.mark.benchmark(group="prometheus-record-llm")
def test_record_llm(benchmark: Any) -> None:
    metrics = PrometheusMetrics()
    benchmark(lambda: metrics.record_llm(**RECORD_ARGUMENTS))

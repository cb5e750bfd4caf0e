"""PrometheusMetrics: explicit recording, ambient recording, the cardinality guard, the scrape endpoint and
prometheus-client's multiprocess mode. Values are read back from the registry and compared exactly."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import synapsekit
from synapsekit._budget.events import BudgetEvent, emit
from synapsekit._core import sinks as _sinks
from synapsekit._core.call import LLMCall, start_call
from synapsekit._core.exceptions import BudgetExceeded
from synapsekit._core.scope import Scope
from synapsekit._llms.base import BaseLLM, Generation, LLMConfig
from synapsekit._llms.offline import OfflineLLM
from synapsekit._pricing.prices import clear_price_overrides, set_price
from synapsekit._prometheus.instruments import LATENCY_BUCKETS
from synapsekit._prometheus.metrics import PrometheusMetrics

from ._prom_workers import (
    OFFLINE_MODEL,
    OFFLINE_PROVIDER,
    WORKER_BUDGET_LIMIT,
    WORKER_CALL_COST,
    set_offline_prices,
)

OFFLINE = {"model": OFFLINE_MODEL, "provider": OFFLINE_PROVIDER}
WORKERS_SCRIPT = Path(__file__).with_name("_prom_workers.py")


@pytest.fixture(autouse=True)
def _prices() -> Iterator[None]:
    set_offline_prices()
    yield
    clear_price_overrides()


@pytest.fixture
def prom() -> Iterator[PrometheusMetrics]:
    metrics = PrometheusMetrics()
    yield metrics
    metrics.close()


@pytest.fixture
def attached(prom: PrometheusMetrics) -> PrometheusMetrics:
    prom.attach()
    return prom


def value(prom: PrometheusMetrics, name: str, **labels: str) -> float | None:
    assert prom.registry is not None
    return prom.registry.get_sample_value(name, labels)


def sample_names(prom: PrometheusMetrics) -> set[str]:
    assert prom.registry is not None
    return {sample.name for metric in prom.registry.collect() for sample in metric.samples}


def series(prom: PrometheusMetrics, name: str) -> list[dict[str, str]]:
    assert prom.registry is not None
    return [
        sample.labels
        for metric in prom.registry.collect()
        for sample in metric.samples
        if sample.name == name
    ]


class RejectingScope(Scope):
    """A budget-like scope that refuses every call."""

    gates_calls = True

    def admit(self, call: LLMCall) -> None:
        raise BudgetExceeded("over budget", spent=1.0, limit=1.0, budget_name="team-a")


class WireLevelLLM(BaseLLM):
    """A BaseLLM whose request goes through an (imitated) instrumented SDK: two layers, one request."""

    provider = "custom"

    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        call = start_call("openai", "chat", "gpt-4o-mini")
        with call:
            call.record_usage(input_tokens=10, output_tokens=5)
            call.record_response(model="gpt-4o-mini-2024-07-18")
        call.finish()
        return Generation(text="ok", model="gpt-4o-mini-2024-07-18")


# -- construction --------------------------------------------------------------------------------------------
def test_metric_names_and_latency_buckets(prom: PrometheusMetrics) -> None:
    prom.record_llm(model="m", provider="p", cost_usd=0.5, total_tokens=3, latency_ms=20.0)
    assert prom.registry is not None
    families = {metric.name: metric.type for metric in prom.registry.collect()}
    assert families == {
        "synapsekit_cost_usd": "counter",
        "synapsekit_tokens": "counter",
        "synapsekit_latency_seconds": "histogram",
        "synapsekit_tokens_by_type": "counter",
        "synapsekit_requests": "counter",
        "synapsekit_errors": "counter",
        "synapsekit_time_to_first_chunk_seconds": "histogram",
        "synapsekit_unknown_cost_calls": "counter",
        "synapsekit_budget_remaining_usd": "gauge",
        "synapsekit_budget_rejections": "counter",
        "synapsekit_budget_spent_usd": "counter",
    }
    buckets = [s["le"] for s in series(prom, "synapsekit_latency_seconds_bucket")]
    assert buckets == [*(str(float(b)) for b in LATENCY_BUCKETS), "+Inf"]
    assert LATENCY_BUCKETS == (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


def test_default_registry_is_private_so_instances_never_collide() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    assert first.registry is not None
    assert second.registry is not None
    assert first.registry is not second.registry
    first.record_llm(model="m", provider="p", cost_usd=1.0, total_tokens=None, latency_ms=None)
    assert value(first, "synapsekit_cost_usd_total", model="m", provider="p") == 1.0
    assert value(second, "synapsekit_cost_usd_total", model="m", provider="p") is None


def test_custom_registry_and_namespace() -> None:
    registry = CollectorRegistry()
    prom = PrometheusMetrics(namespace="myapp_llm", registry=registry)
    assert prom.registry is registry
    prom.record_llm(model="m", provider="p", cost_usd=0.25, total_tokens=7, latency_ms=None)
    assert registry.get_sample_value("myapp_llm_cost_usd_total", {"model": "m", "provider": "p"}) == 0.25
    assert registry.get_sample_value("myapp_llm_tokens_total", {"model": "m", "provider": "p"}) == 7.0


@pytest.mark.parametrize("namespace", ["", "9lives", "my-app", "a b", "synapse.kit"])
def test_invalid_namespace_is_rejected_early(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace must be a valid Prometheus metric name prefix"):
        PrometheusMetrics(namespace=namespace)


@pytest.mark.parametrize("max_values", [0, -1, True, 2.5])
def test_invalid_max_label_values(max_values: Any) -> None:
    with pytest.raises(ValueError, match="max_label_values must be a positive integer"):
        PrometheusMetrics(max_label_values=max_values)


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # `import prometheus_client` now fails
    with pytest.raises(ImportError, match=r'pip install "synapsekit\[observe\]"'):
        PrometheusMetrics()


def test_disabled_is_a_complete_no_op_without_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    sinks_before = _sinks.current_sinks()
    prom = PrometheusMetrics(enabled=False, start_server=True, port=1)
    prom.record_llm(model="m", provider="p", cost_usd=1.0, total_tokens=1, latency_ms=1.0)
    prom.record_span(SimpleNamespace(name="llm.generate", attributes={}, duration_ms=1.0, status="ok"))
    prom.start_http_server(port=1)
    prom.attach()
    assert _sinks.current_sinks() == sinks_before
    prom.on_call_end(start_call("openai", "chat", "gpt-4o"))
    prom.detach()
    prom.close()
    assert prom.registry is None
    assert prom.http_port is None
    assert prom.expose() == b""


def test_importing_the_module_does_not_import_prometheus_client() -> None:
    code = (
        "import sys, synapsekit._prometheus.metrics as m; m.PrometheusMetrics(enabled=False); "
        "assert 'prometheus_client' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_disabled_through_instrument_records_nothing() -> None:
    prom = PrometheusMetrics(enabled=False)
    synapsekit.instrument(metrics=prom)
    try:
        assert prom not in _sinks.current_sinks()
        asyncio.run(OfflineLLM().generate("hello there"))
    finally:
        synapsekit.uninstrument()
    assert prom.registry is None


# -- record_llm ----------------------------------------------------------------------------------------------
def test_record_llm_exact_values(prom: PrometheusMetrics) -> None:
    prom.record_llm(model="gpt-4o-mini", provider="openai", cost_usd=0.25, total_tokens=100, latency_ms=40.0)
    prom.record_llm(model="gpt-4o-mini", provider="openai", cost_usd=0.5, total_tokens=50, latency_ms=3000.0)
    labels = {"model": "gpt-4o-mini", "provider": "openai"}
    assert value(prom, "synapsekit_cost_usd_total", **labels) == 0.75
    assert value(prom, "synapsekit_tokens_total", **labels) == 150.0
    assert value(prom, "synapsekit_latency_seconds_count", **labels) == 2.0
    assert value(prom, "synapsekit_latency_seconds_sum", **labels) == 3.04
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.05", **labels) == 1.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="2.5", **labels) == 1.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="5.0", **labels) == 2.0
    assert value(prom, "synapsekit_requests_total", outcome="ok", **labels) == 2.0


def test_record_llm_skips_none_values(prom: PrometheusMetrics) -> None:
    prom.record_llm(model="m", provider="p", cost_usd=None, total_tokens=None, latency_ms=None)
    assert value(prom, "synapsekit_requests_total", model="m", provider="p", outcome="ok") == 1.0
    assert series(prom, "synapsekit_cost_usd_total") == []
    assert series(prom, "synapsekit_tokens_total") == []
    assert series(prom, "synapsekit_latency_seconds_count") == []
    assert series(prom, "synapsekit_unknown_cost_calls_total") == []


@pytest.mark.parametrize(
    ("field", "bad"),
    [("cost_usd", -0.01), ("total_tokens", -1), ("latency_ms", -5.0), ("cost_usd", float("nan"))],
)
def test_record_llm_rejects_negative_values(prom: PrometheusMetrics, field: str, bad: float) -> None:
    arguments: dict[str, Any] = {"cost_usd": None, "total_tokens": None, "latency_ms": None, field: bad}
    with pytest.raises(ValueError, match=f"{field} must be >= 0"):
        prom.record_llm(model="m", provider="p", **arguments)
    assert series(prom, "synapsekit_requests_total") == []


# -- record_span ---------------------------------------------------------------------------------------------
def llm_span(**overrides: Any) -> Any:
    from synapsekit.observability._span import Span

    fields: dict[str, Any] = {
        "span_id": "00f067aa0ba902b7",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "parent_span_id": None,
        "name": "llm.generate",
        "start_time": None,
        "end_time": None,
        "duration_ms": 250.0,
        "attributes": {
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.usage.cost": 0.125,
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 12,
        },
        "events": [],
        "status": "ok",
        "error": None,
    }
    fields.update(overrides)
    return Span(**fields)


def test_record_span_reads_the_genai_attributes(prom: PrometheusMetrics) -> None:
    prom.record_span(llm_span())
    labels = {"model": "claude-sonnet-4-5", "provider": "anthropic"}
    assert value(prom, "synapsekit_cost_usd_total", **labels) == 0.125
    assert value(prom, "synapsekit_tokens_total", **labels) == 42.0
    assert value(prom, "synapsekit_tokens_by_type_total", type="input", **labels) == 30.0
    assert value(prom, "synapsekit_tokens_by_type_total", type="output", **labels) == 12.0
    assert value(prom, "synapsekit_latency_seconds_sum", **labels) == 0.25
    assert value(prom, "synapsekit_requests_total", outcome="ok", **labels) == 1.0


def test_record_span_ignores_other_spans(prom: PrometheusMetrics) -> None:
    prom.record_span(llm_span(name="llm.stream"))
    prom.record_span(llm_span(name="rag.aquery"))
    assert series(prom, "synapsekit_requests_total") == []


def test_record_span_accepts_any_object_with_the_span_fields(prom: PrometheusMetrics) -> None:
    span = SimpleNamespace(
        name="llm.generate",
        attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai"},
        duration_ms=None,
        status="unset",
    )
    prom.record_span(span)
    labels = {"model": "gpt-4o", "provider": "openai"}
    assert value(prom, "synapsekit_requests_total", outcome="ok", **labels) == 1.0
    # No usage, cost or duration on the span: nothing recorded for them.
    assert series(prom, "synapsekit_tokens_total") == []
    assert series(prom, "synapsekit_cost_usd_total") == []
    assert series(prom, "synapsekit_latency_seconds_count") == []


def test_record_span_error_status_counts_an_error(prom: PrometheusMetrics) -> None:
    attributes = {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.provider.name": "openai",
        "error.type": "RateLimitError",
    }
    prom.record_span(llm_span(attributes=attributes, status="error", error="429 Too Many Requests"))
    labels = {"model": "gpt-4o", "provider": "openai"}
    assert value(prom, "synapsekit_requests_total", outcome="error", **labels) == 1.0
    assert value(prom, "synapsekit_errors_total", error_type="RateLimitError", **labels) == 1.0
    assert series(prom, "synapsekit_latency_seconds_count") == []


def test_record_span_ignores_non_numeric_attributes(prom: PrometheusMetrics) -> None:
    attributes = {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.provider.name": "openai",
        "gen_ai.usage.cost": "0.5",
        "gen_ai.usage.input_tokens": True,
        "gen_ai.usage.output_tokens": 4,
    }
    prom.record_span(llm_span(attributes=attributes))
    labels = {"model": "gpt-4o", "provider": "openai"}
    assert series(prom, "synapsekit_cost_usd_total") == []
    assert value(prom, "synapsekit_tokens_total", **labels) == 4.0
    assert series(prom, "synapsekit_tokens_by_type_total") == [{**labels, "type": "output"}]


# -- ambient recording ---------------------------------------------------------------------------------------
async def test_ambient_generate_and_stream_exact_totals(attached: PrometheusMetrics) -> None:
    llm = OfflineLLM()
    await llm.generate("What is RAG?")  # 3 input, 12 output: 3*0.5 + 12*0.25 = 4.5
    chunks = [chunk async for chunk in llm.stream("Explain embeddings please", max_tokens=5)]  # 3 in, 5 out
    assert len(chunks) == 5
    assert value(attached, "synapsekit_requests_total", outcome="ok", **OFFLINE) == 2.0
    assert value(attached, "synapsekit_cost_usd_total", **OFFLINE) == 4.5 + 2.75
    assert value(attached, "synapsekit_tokens_total", **OFFLINE) == 23.0
    assert value(attached, "synapsekit_tokens_by_type_total", type="input", **OFFLINE) == 6.0
    assert value(attached, "synapsekit_tokens_by_type_total", type="output", **OFFLINE) == 17.0
    assert value(attached, "synapsekit_latency_seconds_count", **OFFLINE) == 2.0
    # Only the stream has a first chunk.
    assert value(attached, "synapsekit_time_to_first_chunk_seconds_count", **OFFLINE) == 1.0
    assert series(attached, "synapsekit_unknown_cost_calls_total") == []
    assert series(attached, "synapsekit_errors_total") == []


async def test_instrument_metrics_attaches_and_uninstrument_detaches() -> None:
    prom = PrometheusMetrics()
    synapsekit.instrument(metrics=prom)
    try:
        assert prom in _sinks.current_sinks()
        await OfflineLLM().generate("one two")
    finally:
        synapsekit.uninstrument()
    assert prom not in _sinks.current_sinks()
    await OfflineLLM().generate("not recorded")
    assert value(prom, "synapsekit_requests_total", outcome="ok", **OFFLINE) == 1.0
    assert value(prom, "synapsekit_tokens_total", **OFFLINE) == 14.0


def test_attach_and_detach_are_idempotent(prom: PrometheusMetrics) -> None:
    prom.attach()
    prom.attach()
    assert sum(1 for sink in _sinks.current_sinks() if sink is prom) == 1
    prom.detach()
    prom.detach()
    assert prom not in _sinks.current_sinks()


async def test_nested_layers_count_one_request(attached: PrometheusMetrics) -> None:
    await WireLevelLLM(LLMConfig(model="my-wrapper")).generate("hi")
    # The wire-level call is authoritative; the BaseLLM layer around it reports nothing.
    assert series(attached, "synapsekit_requests_total") == [
        {"model": "gpt-4o-mini", "provider": "openai", "outcome": "ok"}
    ]
    assert value(attached, "synapsekit_tokens_total", model="gpt-4o-mini", provider="openai") == 15.0


def test_failed_call_counts_error_by_type(attached: PrometheusMetrics) -> None:
    call = start_call("openai", "chat", "gpt-4o-mini")
    with pytest.raises(TimeoutError), call:
        raise TimeoutError("read timed out")
    labels = {"model": "gpt-4o-mini", "provider": "openai"}
    assert value(attached, "synapsekit_requests_total", outcome="error", **labels) == 1.0
    assert value(attached, "synapsekit_errors_total", error_type="TimeoutError", **labels) == 1.0
    # Failed calls do not skew the latency histogram, and a failure before any usage costs nothing.
    assert series(attached, "synapsekit_latency_seconds_count") == []
    assert value(attached, "synapsekit_tokens_total", **labels) == 0.0
    assert value(attached, "synapsekit_cost_usd_total", **labels) == 0.0


def test_rejected_call_counts_a_rejection_and_nothing_else(attached: PrometheusMetrics) -> None:
    with RejectingScope(), pytest.raises(BudgetExceeded):
        start_call("openai", "chat", "gpt-4o-mini", max_output_tokens=10, prompt="hello")
    assert series(attached, "synapsekit_requests_total") == [
        {"model": "gpt-4o-mini", "provider": "openai", "outcome": "rejected"}
    ]
    for name in ("tokens_total", "cost_usd_total", "errors_total", "latency_seconds_count"):
        assert series(attached, f"synapsekit_{name}") == []


def test_unknown_price_counts_an_unknown_cost_call_not_zero_dollars(attached: PrometheusMetrics) -> None:
    call = start_call("acme", "chat", "acme-unpriced-model")
    call.record_usage(input_tokens=8, output_tokens=2)
    with pytest.warns(synapsekit.UnknownModelPriceWarning):
        call.finish()
    labels = {"model": "acme-unpriced-model", "provider": "acme"}
    assert value(attached, "synapsekit_unknown_cost_calls_total", **labels) == 1.0
    assert value(attached, "synapsekit_tokens_total", **labels) == 10.0
    assert series(attached, "synapsekit_cost_usd_total") == []


def test_token_types_cached_cache_creation_reasoning(attached: PrometheusMetrics) -> None:
    set_price("tokenful", provider="acme", input_per_mtok=1_000_000, output_per_mtok=1_000_000)
    call = start_call("acme", "chat", "tokenful")
    call.record_usage(
        input_tokens=100,
        output_tokens=40,
        cached_input_tokens=60,
        cache_creation_input_tokens=20,
        reasoning_tokens=30,
    )
    call.finish()
    by_type = {
        s["type"]: value(attached, "synapsekit_tokens_by_type_total", **s)
        for s in series(attached, "synapsekit_tokens_by_type_total")
    }
    # input includes cached and cache-creation tokens, output includes reasoning (GenAI conventions).
    assert by_type == {
        "input": 100.0,
        "output": 40.0,
        "cached_input": 60.0,
        "cache_creation": 20.0,
        "reasoning": 30.0,
    }
    assert value(attached, "synapsekit_tokens_total", model="tokenful", provider="acme") == 140.0


def test_budget_events_update_remaining_and_rejections(attached: PrometheusMetrics) -> None:
    def event(kind: str, remaining: float | None, name: str = "team-a") -> BudgetEvent:
        return BudgetEvent(
            kind=kind,
            budget_name=name,
            window="day",
            bucket="2025-01-01",
            spent_usd=0.0,
            reserved_usd=0.0,
            limit_usd=None if remaining is None else 5.0,
            remaining_usd=remaining,
            spent_tokens=0,
            limit_tokens=None,
            amount_usd=None,
            provider="openai",
            model="gpt-4o",
        )

    emit(event("reserved", 4.5), None)
    # A reservation's remaining figure is superseded by its settlement: metrics listen to settlements only.
    assert series(attached, "synapsekit_budget_remaining_usd") == []
    emit(event("settled", 4.75), None)
    emit(event("rejected", 4.75), None)
    emit(event("rejected", None, name="tokens-only"), None)
    assert value(attached, "synapsekit_budget_remaining_usd", budget="team-a", window="day") == 4.75
    assert value(attached, "synapsekit_budget_rejections_total", budget="team-a") == 1.0
    assert value(attached, "synapsekit_budget_rejections_total", budget="tokens-only") == 1.0
    assert series(attached, "synapsekit_budget_remaining_usd") == [{"budget": "team-a", "window": "day"}]
    attached.detach()
    emit(event("rejected", 1.0), None)
    assert value(attached, "synapsekit_budget_rejections_total", budget="team-a") == 1.0


# -- cardinality guard ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("GPT-4o-Mini", "gpt-4o-mini"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("openai/gpt-4o:free", "gpt-4o"),
        ("", "unknown"),
    ],
)
def test_model_labels_are_normalised(prom: PrometheusMetrics, raw: str, label: str) -> None:
    prom.record_llm(model=raw, provider="OpenAI", cost_usd=None, total_tokens=1, latency_ms=None)
    assert series(prom, "synapsekit_tokens_total") == [{"model": label, "provider": "openai"}]


def test_label_values_are_capped_with_overflow_to_other() -> None:
    prom = PrometheusMetrics(max_label_values=2)
    for model in ("model-a", "model-b", "model-c", "model-d", "model-a"):
        prom.record_llm(model=model, provider="p", cost_usd=None, total_tokens=1, latency_ms=None)
    values = {
        s["model"]: value(prom, "synapsekit_tokens_total", **s)
        for s in series(prom, "synapsekit_tokens_total")
    }
    assert values == {"model-a": 2.0, "model-b": 1.0, "other": 2.0}


def test_error_type_labels_are_capped_too(attached: PrometheusMetrics) -> None:
    capped = PrometheusMetrics(max_label_values=1)
    capped.attach()
    try:
        for exc in (TimeoutError("a"), ConnectionError("b"), KeyError("c")):
            call = start_call("openai", "chat", "gpt-4o")
            call.fail(exc)
    finally:
        capped.close()
    errors = {
        s["error_type"]: value(capped, "synapsekit_errors_total", **s)
        for s in series(capped, "synapsekit_errors_total")
    }
    assert errors == {"TimeoutError": 1.0, "other": 2.0}


async def test_prompts_never_become_labels(attached: PrometheusMetrics) -> None:
    secret = "my-secret-prompt-text"
    await OfflineLLM().generate(secret)
    assert secret not in attached.expose().decode()


def test_concurrent_recording_is_exact(prom: PrometheusMetrics) -> None:
    def record() -> None:
        for index in range(500):
            prom.record_llm(
                model=f"model-{index % 5}", provider="p", cost_usd=0.5, total_tokens=2, latency_ms=None
            )

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for model in range(5):
        assert value(prom, "synapsekit_cost_usd_total", model=f"model-{model}", provider="p") == 400.0
        assert value(prom, "synapsekit_tokens_total", model=f"model-{model}", provider="p") == 1600.0


# -- the scrape endpoint -------------------------------------------------------------------------------------
def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        body: bytes = response.read()
    return body.decode()


def test_http_server_serves_the_exposition_and_is_idempotent(prom: PrometheusMetrics) -> None:
    prom.start_http_server(host="127.0.0.1", port=0)
    port = prom.http_port
    assert port is not None
    assert port > 0
    prom.start_http_server(host="127.0.0.1", port=0)  # already started: no-op
    assert prom.http_port == port
    prom.record_llm(model="gpt-4o", provider="openai", cost_usd=0.5, total_tokens=9, latency_ms=None)
    text = scrape(port)
    assert 'synapsekit_cost_usd_total{model="gpt-4o",provider="openai"} 0.5' in text
    assert 'synapsekit_tokens_total{model="gpt-4o",provider="openai"} 9.0' in text
    prom.close()
    assert prom.http_port is None
    with pytest.raises(OSError):  # noqa: PT011 - any connection error: the server is gone
        scrape(port)


def test_start_server_on_construction() -> None:
    prom = PrometheusMetrics(start_server=True, host="127.0.0.1", port=0)
    try:
        assert prom.http_port is not None
        assert "# TYPE synapsekit_cost_usd_total counter" in scrape(prom.http_port)
    finally:
        prom.close()


def test_port_in_use_is_a_clear_error(prom: PrometheusMetrics) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} is already in use") as raised:
            prom.start_http_server(host="127.0.0.1", port=port)
    assert raised.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert prom.http_port is None


@pytest.mark.parametrize(
    ("port", "error", "message"),
    [
        (-1, ValueError, "port must be an integer in 0..65535, got -1"),
        (65536, ValueError, "port must be an integer in 0..65535, got 65536"),
        ("8000", TypeError, "port must be an integer in 0..65535, got str '8000'"),
        (True, TypeError, "port must be an integer in 0..65535, got bool True"),
    ],
)
def test_invalid_port(prom: PrometheusMetrics, port: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        prom.start_http_server(port=port)
    assert str(raised.value) == message
    assert prom.http_port is None


# -- multiprocess mode ---------------------------------------------------------------------------------------
def scraped_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def run_workers(directory: Path, count: int) -> list[int]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "SYNAPSEKIT_STRICT": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKERS_SCRIPT), str(index)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(count)
    ]
    pids = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        pids.append(int(out.strip()))
    return pids


def test_multiprocess_workers_aggregate_to_exact_totals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = run_workers(tmp_path, 3)  # worker i makes i + 1 calls: 6 calls in all
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    prom = PrometheusMetrics(start_server=True, host="127.0.0.1", port=0)
    try:
        assert prom.http_port is not None
        values = scraped_values(scrape(prom.http_port))
    finally:
        prom.close()
    labels = tuple(sorted(OFFLINE.items()))
    assert values[("synapsekit_requests_total", tuple(sorted({**OFFLINE, "outcome": "ok"}.items())))] == 6.0
    assert values[("synapsekit_cost_usd_total", labels)] == 6 * WORKER_CALL_COST
    assert values[("synapsekit_tokens_total", labels)] == 6 * 7.0
    assert values[("synapsekit_latency_seconds_count", labels)] == 6.0
    for index in range(3):
        key = ("synapsekit_budget_remaining_usd", (("budget", f"worker-{index}"), ("window", "day")))
        assert values[key] == WORKER_BUDGET_LIMIT - (index + 1) * WORKER_CALL_COST

    # A worker that exits is marked dead (gunicorn's child_exit hook): its budget gauge goes, counters stay.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pids[0], str(tmp_path))  # type: ignore[no-untyped-call]  # unannotated upstream
    after = scraped_values(PrometheusMetrics().expose().decode())
    assert ("synapsekit_budget_remaining_usd", (("budget", "worker-0"), ("window", "day"))) not in after
    assert after[("synapsekit_cost_usd_total", labels)] == 6 * WORKER_CALL_COST


# -- with a real budget --------------------------------------------------------------------------------------
async def test_real_budget_reports_remaining_and_rejection(attached: PrometheusMetrics) -> None:
    from synapsekit._budget import budget

    llm = OfflineLLM()
    # Each call costs $2.50 (3 input + 4 output tokens); the budget reserves up to $3 before sending, so the
    # fourth call (7.50 + 3 > 9) is refused.
    with budget(max_cost_usd=9.0, window="day", name="e2e"):
        for _ in range(3):
            await llm.generate("one two three", max_tokens=4)
        with pytest.raises(BudgetExceeded):
            await llm.generate("one two three", max_tokens=4)
    assert value(attached, "synapsekit_requests_total", outcome="ok", **OFFLINE) == 3.0
    assert value(attached, "synapsekit_requests_total", outcome="rejected", **OFFLINE) == 1.0
    assert value(attached, "synapsekit_cost_usd_total", **OFFLINE) == 7.5
    assert value(attached, "synapsekit_budget_rejections_total", budget="e2e") == 1.0
    assert value(attached, "synapsekit_budget_remaining_usd", budget="e2e", window="day") == 1.5

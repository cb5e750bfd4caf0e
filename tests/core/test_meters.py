"""The GenAI client metrics: recorded by the core once the global MeterProvider is the SDK's, never twice."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import synapsekit
from synapsekit._core import meters as _meters
from synapsekit._core.call import LLMCall, start_call
from synapsekit._otel.metrics import GenAIMetricsSink

MODEL = "synapsekit-offline"


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    return {
        metric.name: list(metric.data.data_points)
        for resource_metrics in (data.resource_metrics if data is not None else ())
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }


def _streamed_call(chunk_times_ns: list[int] | None) -> LLMCall:
    call = LLMCall("openai", "chat", "gpt-4o-mini", streamed=True, server_address="api.openai.com")
    call.record_usage(input_tokens=3, output_tokens=12)
    call.record_response(model="gpt-4o-mini-2024-07-18")
    call.time_to_first_chunk_s = 0.25
    call.chunk_times_ns = chunk_times_ns
    call.latency_s = 1.5
    return call


def test_streamed_call_records_time_to_first_chunk_and_each_gap_after_it() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    # Chunks at 0, 10, 30 and 60 ms after the first: gaps of 10, 20 and 30 ms.
    _meters.GenAIMetrics(provider.get_meter("t")).record_call(
        _streamed_call([1_000_000_000, 1_010_000_000, 1_030_000_000, 1_060_000_000])
    )
    points = _points(reader)
    (first,) = points["gen_ai.client.operation.time_to_first_chunk"]
    (gaps,) = points["gen_ai.client.operation.time_per_output_chunk"]
    assert (first.count, first.sum) == (1, 0.25)
    assert (gaps.count, gaps.min, gaps.max) == (3, 0.01, 0.03)
    assert gaps.sum == pytest.approx(0.06)
    assert gaps.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "server.address": "api.openai.com",
    }
    # The streaming histograms use the conventions' duration buckets.
    assert tuple(gaps.explicit_bounds) == _meters.OPERATION_DURATION_BUCKETS
    provider.shutdown()


def test_one_chunk_has_no_gap_and_a_plain_call_no_streaming_metrics() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    genai = _meters.GenAIMetrics(provider.get_meter("t"))
    genai.record_call(_streamed_call([1_000]))
    plain = _streamed_call(None)
    plain.streamed = False
    genai.record_call(plain)
    points = _points(reader)
    assert [p.count for p in points["gen_ai.client.operation.time_to_first_chunk"]] == [1]
    assert "gen_ai.client.operation.time_per_output_chunk" not in points
    assert [p.count for p in points["gen_ai.client.operation.duration"]] == [2]
    provider.shutdown()


def test_rejected_call_records_nothing() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    call = _streamed_call(None)
    call.rejected = True
    _meters.GenAIMetrics(provider.get_meter("t")).record_call(call)
    assert _points(reader) == {}
    provider.shutdown()


def test_every_call_is_recorded_with_the_sdks_provider_and_no_exporter(metrics: Any) -> None:
    for _ in range(2):
        call = start_call("synapsekit", "chat", MODEL, streamed=True)
        call.chunk("a")
        call.chunk("b")
        call.chunk("c")
        call.record_usage(input_tokens=4, output_tokens=3)
        call.finish()
    points = metrics.points()
    assert [p.count for p in points["gen_ai.client.operation.duration"]] == [2]
    assert sorted(
        (p.attributes["gen_ai.token.type"], p.sum) for p in points["gen_ai.client.token.usage"]
    ) == [
        ("input", 8),
        ("output", 6),
    ]
    assert [p.count for p in points["gen_ai.client.operation.time_to_first_chunk"]] == [2]
    assert [p.count for p in points["gen_ai.client.operation.time_per_output_chunk"]] == [4]


def test_the_sink_stands_aside_when_the_core_records(metrics: Any) -> None:
    sink = GenAIMetricsSink()
    synapsekit.add_sink(sink)
    try:
        call = start_call("synapsekit", "chat", MODEL)
        call.record_usage(input_tokens=4, output_tokens=3)
        call.finish()
    finally:
        synapsekit.remove_sink(sink)
    assert [p.count for p in metrics.points()["gen_ai.client.operation.duration"]] == [1]


def test_chunk_times_are_kept_only_while_metrics_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_meters, "sdk_metrics", lambda: None)
    call = start_call("synapsekit", "chat", MODEL, streamed=True)
    for text in ("a", "b", "c"):
        call.chunk(text)
    call.finish()
    assert (call.chunks, call.chunk_times_ns) == (3, None)
    assert call.time_to_first_chunk_s is not None


def test_chunk_times_are_kept_with_the_sdks_provider(metrics: Any) -> None:
    call = start_call("synapsekit", "chat", MODEL, streamed=True)
    for text in ("a", "b", "c"):
        call.chunk(text)
    call.finish()
    assert call.chunk_times_ns is not None and len(call.chunk_times_ns) == 3
    assert call.chunk_times_ns == sorted(call.chunk_times_ns)


def test_no_sdk_provider_means_no_instruments(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import metrics as metrics_api

    monkeypatch.setattr(_meters, "_last", (None, None))  # restored after, with the real provider's decision
    monkeypatch.setattr(metrics_api, "get_meter_provider", lambda: metrics_api.NoOpMeterProvider())
    assert _meters.sdk_metrics() is None

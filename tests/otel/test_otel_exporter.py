"""OTelExporter: configuration, and real exports over gRPC and HTTP to an OTLP receiver on 127.0.0.1.

Scenarios that install globally (the global TracerProvider and MeterProvider can be set once per process)
run in a subprocess, ``_scripts/otel_scenarios.py``; the receiver runs here and the assertions too.
Scenarios that hand OTelExporter their own providers run in-process.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from synapsekit._otel.accounting import OTelExportStats
from synapsekit._otel.endpoints import (
    parse_headers,
    resolve_headers,
    resolve_protocol,
    resolve_service_name,
    resolve_target,
)
from synapsekit._otel.exporter import OTelExporter
from synapsekit._otel.metrics import OPERATION_DURATION_BUCKETS, TOKEN_USAGE_BUCKETS, GenAIMetrics
from synapsekit.testing._otlp import OTLPReceiver, ReceivedDataPoint, ReceivedEvent, ReceivedSpan

SCENARIOS = Path(__file__).parent / "_scripts" / "otel_scenarios.py"
REPO_ROOT = Path(__file__).resolve().parents[2]

CALL_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "server.address": "127.0.0.1",
    "server.port": 8080,
}
TOKEN_BOUNDS = [1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
                4194304.0, 16777216.0, 67108864.0]  # fmt: skip
DURATION_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith("OTEL_"):
            monkeypatch.delenv(variable)


def run_scenario(
    scenario: str, endpoint: str, env: dict[str, str] | None = None, flush: bool = True, **kwargs: Any
) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter; ``kwargs`` go to OTelExporter."""
    options = {"endpoint": endpoint, "flush": flush, "kwargs": kwargs}
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, str(SCENARIOS), scenario, json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=90,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""  # no export error, no SDK warning
    report: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return report


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_span_tree(spans: list[ReceivedSpan], service_name: str, transport: str) -> None:
    by_name = {span.name: span for span in spans}
    assert sorted(by_name) == ["chat gpt-4o-mini", "rag.aquery"]
    parent, child = by_name["rag.aquery"], by_name["chat gpt-4o-mini"]
    assert parent.parent_span_id is None
    assert child.parent_span_id == parent.span_id
    assert child.trace_id == parent.trace_id
    assert (parent.kind, child.kind) == ("INTERNAL", "CLIENT")
    assert parent.attributes == {"synapsekit.input": "What is RAG?"}
    assert child.attributes == {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.cost": 0.00042}
    assert child.events == [ReceivedEvent("gen_ai.first_chunk", {"index": 0}, child.events[0].time_unix_nano)]
    for span in spans:
        assert span.resource_attributes["service.name"] == service_name
        assert span.scope_name == "synapsekit.tests"
        assert span.transport == transport


def assert_genai_metrics(receiver: OTLPReceiver, transport: str) -> None:
    token_usage = receiver.wait_for_metrics("gen_ai.client.token.usage")[-1]
    assert (token_usage.kind, token_usage.unit, token_usage.transport) == ("histogram", "{token}", transport)
    assert token_usage.scope_name == "synapsekit"
    response = {**CALL_ATTRIBUTES, "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}
    assert sorted(token_usage.data_points, key=lambda point: point.attributes["gen_ai.token.type"]) == [
        ReceivedDataPoint(
            attributes={**response, "gen_ai.token.type": "input"},
            sum=12.0,
            count=1,
            bucket_counts=[0, 0, 1] + [0] * 12,
            explicit_bounds=TOKEN_BOUNDS,
            min=12.0,
            max=12.0,
        ),
        ReceivedDataPoint(
            attributes={**response, "gen_ai.token.type": "output"},
            sum=38.0,
            count=1,
            bucket_counts=[0, 0, 0, 1] + [0] * 11,
            explicit_bounds=TOKEN_BOUNDS,
            min=38.0,
            max=38.0,
        ),
    ]
    duration = receiver.wait_for_metrics("gen_ai.client.operation.duration")[-1]
    assert (duration.kind, duration.unit) == ("histogram", "s")
    assert sorted(duration.data_points, key=lambda point: point.sum or 0) == [
        ReceivedDataPoint(
            attributes=response,
            sum=0.5,
            count=1,
            bucket_counts=[0] * 6 + [1] + [0] * 8,
            explicit_bounds=DURATION_BOUNDS,
            min=0.5,
            max=0.5,
        ),
        ReceivedDataPoint(
            attributes={**CALL_ATTRIBUTES, "error.type": "RateLimitError"},
            sum=3.0,
            count=1,
            bucket_counts=[0] * 9 + [1] + [0] * 5,
            explicit_bounds=DURATION_BOUNDS,
            min=3.0,
            max=3.0,
        ),
    ]


# -- protocol, endpoint, headers: no export needed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "protocol", "environ", "expected"),
    [
        ("http://localhost:4317", None, {}, "grpc"),
        ("grpc://collector:9000", None, {}, "grpc"),
        ("collector:4317", None, {}, "grpc"),
        ("http://localhost:4318", None, {}, "http/protobuf"),
        ("https://otlp.example.com/v1/traces", None, {}, "http/protobuf"),
        ("https://otlp.example.com/v1/traces/", None, {}, "http/protobuf"),
        ("http://collector:9999", None, {}, "grpc"),
        ("http://collector:9999", None, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "http/protobuf"),
        (
            "http://collector:9999",
            None,
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            "grpc",
        ),
        ("http://collector:4317", None, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "grpc"),
        ("http://collector:4317", "http/protobuf", {}, "http/protobuf"),
        ("http://collector:4318", "grpc", {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "grpc"),
    ],
)
def test_protocol_detection(
    endpoint: str, protocol: str | None, environ: dict[str, str], expected: str
) -> None:
    assert resolve_protocol(endpoint, protocol, environ) == expected


@pytest.mark.parametrize(
    ("protocol", "environ", "message"),
    [
        ("thrift", {}, "protocol must be 'grpc' or 'http/protobuf', got 'thrift'"),
        (None, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL=http/json is not"),
        (None, {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "kafka"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='kafka'"),
    ],
)
def test_unknown_protocols_are_refused(protocol: str | None, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_protocol("http://collector:9999", protocol, environ)


@pytest.mark.parametrize(
    ("endpoint", "insecure", "environ", "expected"),
    [
        ("http://localhost:4317", True, {}, ("grpc", "http://localhost:4317", "http://localhost:4317", True)),
        ("https://otlp.example.com:4317", True, {}, ("grpc", "https://otlp.example.com:4317", None, False)),
        ("collector:4317", False, {}, ("grpc", "https://collector:4317", None, False)),
        ("grpc://collector:4317", True, {}, ("grpc", "http://collector:4317", None, True)),
        (
            "http://h:4317",
            False,
            {"OTEL_EXPORTER_OTLP_INSECURE": "true"},
            ("grpc", "http://h:4317", None, True),
        ),
        (
            "http://h:4318",
            True,
            {},
            ("http/protobuf", "http://h:4318/v1/traces", "http://h:4318/v1/metrics", True),
        ),
        (
            "https://otlp.example.com/v1/traces",
            False,
            {},
            (
                "http/protobuf",
                "https://otlp.example.com/v1/traces",
                "https://otlp.example.com/v1/metrics",
                False,
            ),
        ),
        (
            "http://h:4318/otlp/",
            True,
            {},
            ("http/protobuf", "http://h:4318/otlp/v1/traces", "http://h:4318/otlp/v1/metrics", True),
        ),
    ],
)
def test_target_resolution(
    endpoint: str, insecure: bool, environ: dict[str, str], expected: tuple[str, str, str | None, bool]
) -> None:
    target = resolve_target(endpoint, insecure=insecure, environ=environ)
    protocol, traces, metrics, plaintext = expected
    assert (target.protocol, target.traces_endpoint, target.plaintext) == (protocol, traces, plaintext)
    assert target.metrics_endpoint == (metrics or traces)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://localhost:4317", "is plaintext http:// but insecure=False; pass insecure=True"),
        ("ftp://collector:4317", "has an unsupported scheme 'ftp'"),
        ("http://collector:notaport", "has an invalid port"),
        ("http:///v1/traces", "has no host"),
    ],
)
def test_bad_endpoints_are_refused_early(endpoint: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_target(endpoint, insecure=False, environ={})


@pytest.mark.parametrize(
    ("endpoint", "traces_endpoint"),
    [
        ("localhost:4317", "http://localhost:4317"),
        ("http://otel-collector.monitoring.svc.cluster.local:4317", None),
        ("http://10.0.0.7:4317", None),
        ("http://[::1]:4317", None),
        ("http://[fe80::1%25eth0]:4317", None),
        ("http://my_collector:4317", None),
        ("http://user:secret@collector:4317", None),
        ("http://bücher.example:4317", None),
        ("http://collector.example.:4317", None),
    ],
)
def test_real_world_hosts_are_accepted(endpoint: str, traces_endpoint: str | None) -> None:
    target = resolve_target(endpoint, insecure=True, environ={})
    assert (target.protocol, target.traces_endpoint) == ("grpc", traces_endpoint or endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "not a url at all",
        "http://collector name:4317",
        "http://a..b:4317",
        "http://-a:4317",
        "http://[::zz]:4317",
    ],
)
def test_endpoints_that_are_not_urls_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="is not a URL"):
        resolve_target(endpoint, insecure=True, environ={})


def test_headers_from_the_environment_format() -> None:
    assert parse_headers("api-key=secret%20value, X-Tenant=acme,,broken,=nokey") == {
        "api-key": "secret value",
        "x-tenant": "acme",
    }


def test_header_precedence() -> None:
    environ = {"OTEL_EXPORTER_OTLP_HEADERS": "a=generic", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=traces"}
    assert resolve_headers({"Authorization": "Bearer t"}, "traces", environ) == {"authorization": "Bearer t"}
    assert resolve_headers({}, "traces", environ) == {}
    assert resolve_headers(None, "traces", environ) == {"a": "traces"}
    assert resolve_headers(None, "metrics", environ) == {"a": "generic"}
    assert resolve_headers(None, "metrics", {}) == {}


def test_service_name_environment_replaces_only_the_default() -> None:
    assert resolve_service_name("synapsekit", {"OTEL_SERVICE_NAME": "billing"}) == "billing"
    assert resolve_service_name("synapsekit", {}) == "synapsekit"
    assert resolve_service_name("rag-service", {"OTEL_SERVICE_NAME": "billing"}) == "rag-service"


def test_exporter_describes_its_configuration_without_secrets() -> None:
    exporter = OTelExporter("https://otlp.example.com/v1/traces", headers={"Authorization": "Bearer secret"})

    assert (exporter.protocol, exporter.traces_endpoint, exporter.metrics_endpoint) == (
        "http/protobuf",
        "https://otlp.example.com/v1/traces",
        "https://otlp.example.com/v1/metrics",
    )
    assert exporter.headers == {"authorization": "Bearer secret"}
    assert (exporter.service_name, exporter.installed, exporter.force_flush()) == ("synapsekit", False, False)
    assert exporter.stats == OTelExportStats()
    assert repr(exporter) == (
        "OTelExporter(endpoint='https://otlp.example.com/v1/traces', service_name='synapsekit', "
        "protocol='http/protobuf', installed=False)"
    )
    exporter.shutdown()  # nothing installed: nothing to do


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((" ",), {}, ValueError, "OTelExporter needs an endpoint, e.g. 'http://localhost:4317'"),
        (
            ("https://h:4317",),
            {"metric_export_interval_s": 0},
            ValueError,
            "metric_export_interval_s must be a finite number of seconds > 0, got 0",
        ),
        (
            ("https://h:4317",),
            {"metric_export_interval_s": math.nan},
            ValueError,
            "metric_export_interval_s must be a finite number of seconds > 0, got nan",
        ),
        (
            ("https://h:4317",),
            {"timeout_s": -1},
            ValueError,
            "timeout_s must be a finite number of seconds > 0, got -1",
        ),
        (
            ("https://h:4317",),
            {"timeout_s": math.nan},
            ValueError,
            "timeout_s must be a finite number of seconds > 0, got nan",
        ),
        (
            ("https://h:4317",),
            {"timeout_s": "5"},
            TypeError,
            "timeout_s must be a number of seconds, got str '5'",
        ),
        (
            ("https://h:4317",),
            {"shutdown_timeout_s": math.inf},
            ValueError,
            "shutdown_timeout_s must be a finite number of seconds > 0, got inf",
        ),
        (
            ("not a url at all",),
            {},
            ValueError,
            "OTelExporter endpoint 'not a url at all' is not a URL: 'not a url at all' is not a host name or "
            "IP address (expected e.g. 'http://localhost:4317')",
        ),
        (
            ("http://:4317",),
            {"insecure": True},
            ValueError,
            "OTelExporter endpoint 'http://:4317' has no host",
        ),
        (
            (4317,),
            {},
            TypeError,
            "endpoint must be a URL string such as 'http://localhost:4317', got int 4317",
        ),
        (
            ("https://h:4317",),
            {"headers": "a=b"},
            TypeError,
            "headers must be a mapping of str to str such as {'api-key': '...'}, got str",
        ),
        (
            ("https://h:4317",),
            {"headers": {"api-key": 123}},
            TypeError,
            "headers must be a mapping of str to str such as {'api-key': '...'}, got dict",
        ),
        (("http://h:4317",), {"insecure": "yes"}, TypeError, "insecure must be True or False, got str 'yes'"),
        (("https://h:4317",), {"service_name": 5}, TypeError, "service_name must be a string, got int 5"),
        (("https://h:4317",), {"service_name": " "}, ValueError, "service_name must not be empty"),
        (
            ("https://h:4317",),
            {"tracer_provider": "global"},
            TypeError,
            "tracer_provider must be an OpenTelemetry SDK TracerProvider (opentelemetry.sdk.trace), got str",
        ),
    ],
)
def test_bad_arguments_are_refused_where_they_are_written(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        OTelExporter(*args, **kwargs)
    assert str(raised.value) == message


@pytest.mark.parametrize(("value", "expected"), [(None, 3.0), ("", 3.0), ("2", 2.0), (" 0.5 ", 0.5)])
def test_shutdown_deadline_defaults_and_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: float
) -> None:
    if value is not None:
        monkeypatch.setenv("SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S", value)
    assert OTelExporter("https://h:4317").shutdown_timeout_s == expected
    assert OTelExporter("https://h:4317", shutdown_timeout_s=7).shutdown_timeout_s == 7.0  # the argument wins


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("soon", "a number of seconds > 0, got 'soon'"),
        ("0", "a finite number of seconds > 0, got '0'"),
        ("-1", "a finite number of seconds > 0, got '-1'"),
        ("nan", "a finite number of seconds > 0, got 'nan'"),
    ],
)
def test_bad_shutdown_deadline_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S", value)
    with pytest.raises(ValueError, match="SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S") as raised:
        OTelExporter("https://h:4317")
    assert str(raised.value) == f"SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S must be {problem}"


@pytest.mark.parametrize(
    ("missing", "endpoint"),
    [
        ("opentelemetry.sdk.trace", "http://localhost:4318"),
        ("opentelemetry.sdk.metrics", "http://localhost:4317"),
        ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "http://localhost:4317"),
        ("opentelemetry.exporter.otlp.proto.http.metric_exporter", "http://localhost:4318"),
    ],
)
def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch, missing: str, endpoint: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import missing` raise ImportError

    with pytest.raises(ImportError, match=r'pip install "synapsekit\[otel\]"') as raised:
        OTelExporter(endpoint, insecure=True)
    assert f"cannot import {missing}" in str(raised.value)


def test_only_the_chosen_transport_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)

    assert OTelExporter("http://localhost:4318", insecure=True).protocol == "http/protobuf"


# -- the GenAI metric instruments ----------------------------------------------------------------------------


def _points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], float, int]]]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        metric.name: sorted(
            (
                (dict(point.attributes or {}), point.sum, point.count)
                for point in metric.data.data_points
                if isinstance(point, HistogramDataPoint)
            ),
            key=repr,
        )
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }


def test_genai_metrics_leave_out_what_is_unknown() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    genai = GenAIMetrics(provider.get_meter("synapsekit"))

    genai.record(
        operation="chat",
        provider="anthropic",
        request_model="claude-sonnet-4-5",
        response_model="claude-sonnet-4-5-20250929",
        input_tokens=0,
        output_tokens=7,
        duration_s=1.5,
        error_type=None,
        server_address="api.anthropic.com",
        server_port=443,
    )
    genai.record(
        operation="chat",
        provider="anthropic",
        request_model=None,
        response_model=None,
        input_tokens=None,
        output_tokens=None,
        duration_s=0.25,
        error_type="APITimeoutError",
        server_address=None,
        server_port=None,
    )
    genai.record(
        operation="chat",
        provider="anthropic",
        request_model=None,
        response_model=None,
        input_tokens=None,
        output_tokens=None,
        duration_s=None,
        error_type="BudgetExceeded",
        server_address=None,
        server_port=None,
    )

    full = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.response.model": "claude-sonnet-4-5-20250929",
        "server.address": "api.anthropic.com",
        "server.port": 443,
    }
    bare = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic"}
    assert _points(reader) == {
        "gen_ai.client.token.usage": [
            ({**full, "gen_ai.token.type": "input"}, 0, 1),
            ({**full, "gen_ai.token.type": "output"}, 7, 1),
        ],
        "gen_ai.client.operation.duration": sorted(
            [(full, 1.5, 1), ({**bare, "error.type": "APITimeoutError"}, 0.25, 1)], key=repr
        ),
    }
    provider.shutdown()


def test_global_instruments_are_created_once() -> None:
    from synapsekit._otel import metrics as _otel_metrics

    assert _otel_metrics._global_metrics() is _otel_metrics._global_metrics()


# -- in-process exports to providers handed to OTelExporter -------------------------------------------------


@pytest.fixture
def providers() -> Iterator[tuple[TracerProvider, MeterProvider]]:
    resource = Resource({"service.name": "in-process"})
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    meter_provider = MeterProvider(resource=resource, shutdown_on_exit=False)
    yield tracer_provider, meter_provider
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_given_providers_export_spans_and_genai_buckets(
    receiver: OTLPReceiver, providers: tuple[TracerProvider, MeterProvider], transport: str
) -> None:
    tracer_provider, meter_provider = providers
    endpoint = receiver.grpc_endpoint if transport == "grpc" else receiver.http_endpoint
    exporter = OTelExporter(
        endpoint,
        insecure=True,
        protocol="grpc" if transport == "grpc" else "http/protobuf",
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    ).install()
    try:
        with tracer_provider.get_tracer("t").start_as_current_span("outer"):
            tracer_provider.get_tracer("t").start_span("inner").end()
        # The provider was not created by OTelExporter, so its buckets come from the instruments' advice.
        GenAIMetrics(meter_provider.get_meter("synapsekit")).record(
            operation="embeddings",
            provider="openai",
            request_model="text-embedding-3-small",
            response_model=None,
            input_tokens=100,
            output_tokens=None,
            duration_s=0.05,
            error_type=None,
            server_address=None,
            server_port=None,
        )
        assert exporter.force_flush() is True

        inner, outer = receiver.wait_for_spans(2)
        assert (inner.name, outer.name, inner.parent_span_id) == ("inner", "outer", outer.span_id)
        assert outer.resource_attributes["service.name"] == "in-process"
        attributes = {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
        }
        [token_point] = receiver.wait_for_metrics("gen_ai.client.token.usage")[-1].data_points
        assert token_point.attributes == {**attributes, "gen_ai.token.type": "input"}
        assert token_point.explicit_bounds == list(TOKEN_USAGE_BUCKETS)
        assert token_point.bucket_counts == [0, 0, 0, 0, 1] + [0] * 10
        [duration_point] = receiver.wait_for_metrics("gen_ai.client.operation.duration")[-1].data_points
        assert duration_point.attributes == attributes
        assert duration_point.explicit_bounds == list(OPERATION_DURATION_BUCKETS)
        assert duration_point.bucket_counts == [0, 0, 0, 1] + [0] * 11
        assert {(request.transport, request.signal) for request in receiver.requests} == {
            (transport, "traces"),
            (transport, "metrics"),
        }
    finally:
        exporter.shutdown()
    assert exporter.installed is False


def test_installing_one_endpoint_twice_adds_one_processor(
    receiver: OTLPReceiver, providers: tuple[TracerProvider, MeterProvider]
) -> None:
    tracer_provider, _ = providers
    first = OTelExporter(
        receiver.grpc_endpoint, insecure=True, tracer_provider=tracer_provider, export_metrics=False
    )
    second = OTelExporter(
        receiver.grpc_endpoint, insecure=True, tracer_provider=tracer_provider, export_metrics=False
    )
    other_endpoint = OTelExporter(
        receiver.http_endpoint,
        insecure=True,
        protocol="http/protobuf",
        tracer_provider=tracer_provider,
        export_metrics=False,
    )
    try:
        assert first.install() is first
        assert first.install() is first
        assert second.install() is second
        assert other_endpoint.install() is other_endpoint
        tracer_provider.get_tracer("t").start_span("once-per-endpoint").end()
        assert first.force_flush() is True
        assert other_endpoint.force_flush() is True

        received = receiver.wait_for_spans(2)
        assert sorted((span.name, span.transport) for span in received) == [
            ("once-per-endpoint", "grpc"),
            ("once-per-endpoint", "http"),
        ]
    finally:
        first.shutdown()
        other_endpoint.shutdown()
    assert (first.installed, second.installed) == (False, False)  # they shared one installation


def test_span_end_returns_while_the_receiver_is_stuck(
    receiver: OTLPReceiver, providers: tuple[TracerProvider, MeterProvider]
) -> None:
    tracer_provider, _ = providers
    exporter = OTelExporter(
        receiver.grpc_endpoint, insecure=True, tracer_provider=tracer_provider, export_metrics=False
    ).install()
    tracer = tracer_provider.get_tracer("t")
    receiver.pause()
    try:
        tracer.start_span("first").end()
        flushing = threading.Thread(target=exporter.force_flush)
        flushing.start()
        receiver.wait_for_requests(1)
        assert receiver.in_flight == 1

        # The export of "first" is blocked in the receiver; the application still starts and ends spans.
        with tracer.start_as_current_span("second") as second:
            second.set_attribute("done", True)
        assert receiver.in_flight == 1
        assert flushing.is_alive()
    finally:
        receiver.resume()
    flushing.join()
    assert exporter.force_flush() is True
    assert sorted(span.name for span in receiver.wait_for_spans(2)) == ["first", "second"]
    exporter.shutdown()


def _record_one_call(meter_provider: MeterProvider) -> None:
    """One GenAI call: two token-usage points (input, output) and one duration point."""
    GenAIMetrics(meter_provider.get_meter("synapsekit")).record(
        operation="chat",
        provider="anthropic",
        request_model="claude",
        response_model=None,
        input_tokens=1,
        output_tokens=1,
        duration_s=0.1,
        error_type=None,
        server_address=None,
        server_port=None,
    )


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_receiver_down_breaks_nothing_and_force_flush_says_so(
    providers: tuple[TracerProvider, MeterProvider], protocol: str
) -> None:
    tracer_provider, meter_provider = providers
    exporter = OTelExporter(
        f"http://127.0.0.1:{closed_port()}",
        insecure=True,
        protocol=protocol,
        timeout_s=0.5,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    ).install()
    tracer = tracer_provider.get_tracer("t")
    for index in range(50):
        with tracer.start_as_current_span(f"unsent-{index}"):
            pass
    _record_one_call(meter_provider)

    # The application goes on; the flush completes and tells the truth: nothing went out.
    assert exporter.force_flush(timeout_millis=5_000) is False
    assert exporter.stats == OTelExportStats(spans_dropped=50, metric_points_dropped=3, failed_exports=2)
    exporter.shutdown()
    assert exporter.installed is False


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_force_flush_and_stats_follow_the_receiver_up_and_down(
    providers: tuple[TracerProvider, MeterProvider], transport: str
) -> None:
    tracer_provider, meter_provider = providers
    receiver = OTLPReceiver().start()
    exporter = OTelExporter(
        receiver.grpc_endpoint if transport == "grpc" else receiver.http_endpoint,
        insecure=True,
        protocol="grpc" if transport == "grpc" else "http/protobuf",
        timeout_s=0.5,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    ).install()
    tracer = tracer_provider.get_tracer("t")
    try:
        assert exporter.stats == OTelExportStats()
        for index in range(3):
            tracer.start_span(f"up-{index}").end()
        _record_one_call(meter_provider)
        assert exporter.force_flush() is True
        assert exporter.stats == OTelExportStats(spans_exported=3, metric_points_exported=3)
        assert len(receiver.wait_for_spans(3)) == 3

        # The collector stops answering. (Stopping the receiver would not do for HTTP: the exporter's
        # kept-alive connection would still be served by its handler thread.)
        receiver.pause()
        for index in range(2):
            tracer.start_span(f"down-{index}").end()
        assert exporter.force_flush(timeout_millis=5_000) is False
        # Metrics are cumulative: the second collection carries the same three points again.
        assert exporter.stats == OTelExportStats(
            spans_exported=3,
            spans_dropped=2,
            metric_points_exported=3,
            metric_points_dropped=3,
            failed_exports=2,
        )

        receiver.resume()  # back again: the next flush goes through and says so
        tracer.start_span("back").end()
        assert exporter.force_flush() is True
        assert exporter.stats == OTelExportStats(
            spans_exported=4,
            spans_dropped=2,
            metric_points_exported=6,
            metric_points_dropped=3,
            failed_exports=2,
        )
    finally:
        exporter.shutdown()
        receiver.stop()
    # The final collection at shutdown went out too.
    assert exporter.stats == OTelExportStats(
        spans_exported=4, spans_dropped=2, metric_points_exported=9, metric_points_dropped=3, failed_exports=2
    )
    assert exporter.force_flush() is False  # shut down: nothing can be flushed


def test_a_stuck_receiver_cannot_grow_the_queue(
    receiver: OTLPReceiver, providers: tuple[TracerProvider, MeterProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "10")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5")
    tracer_provider, _ = providers
    exporter = OTelExporter(
        receiver.http_endpoint,
        insecure=True,
        protocol="http/protobuf",
        tracer_provider=tracer_provider,
        export_metrics=False,
    ).install()
    receiver.pause()
    try:
        for index in range(200):
            tracer_provider.get_tracer("t").start_span(f"span-{index}").end()
    finally:
        receiver.resume()
    assert exporter.force_flush() is True

    # At most one batch in the stuck export plus a full queue; the rest was dropped, not buffered.
    assert 10 <= len(receiver.spans) <= 15
    exporter.shutdown()


# -- global installs, one interpreter each -----------------------------------------------------------------


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_install_exports_over_real_transport(receiver: OTLPReceiver, transport: str) -> None:
    endpoint = receiver.grpc_endpoint if transport == "grpc" else f"{receiver.http_endpoint}/v1/traces"
    report = run_scenario(
        "export", endpoint, service_name="rag-service", insecure=True, headers={"X-Api-Key": "k-123"}
    )

    assert report["flushed"] is True
    assert report["protocol"] == ("grpc" if transport == "grpc" else "http/protobuf")
    assert_span_tree(receiver.wait_for_spans(2), "rag-service", transport)
    assert_genai_metrics(receiver, transport)
    assert {request.headers["x-api-key"] for request in receiver.requests} == {"k-123"}


@pytest.mark.parametrize(("transport", "delay_s"), [("grpc", 0.0), ("http", 2.0)])
def test_spans_are_flushed_at_a_clean_exit(receiver: OTLPReceiver, transport: str, delay_s: float) -> None:
    receiver.delay_s = delay_s
    endpoint = receiver.grpc_endpoint if transport == "grpc" else f"{receiver.http_endpoint}/v1/traces"
    # A collector that is slow but alive gets everything, given a deadline longer than its answers take.
    report = run_scenario("export", endpoint, insecure=True, flush=False, shutdown_timeout_s=10)

    assert "flushed" not in report
    # The batch processor's 5 s delay had not elapsed: only the exit hook can have sent these.
    assert_span_tree(receiver.wait_for_spans(2), "synapsekit", transport)
    assert_genai_metrics(receiver, transport)


def test_standard_environment_variables(receiver: OTLPReceiver) -> None:
    report = run_scenario(
        "export",
        receiver.http_endpoint,  # no port or path hint: the protocol comes from the environment
        env={
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20tok,x-tenant=acme",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_SERVICE_NAME": "from-env",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/ignored",  # the argument wins
        },
    )

    assert (report["protocol"], report["traces_endpoint"]) == (
        "http/protobuf",
        f"{receiver.http_endpoint}/v1/traces",
    )
    spans = receiver.wait_for_spans(2)
    assert_span_tree(spans, "from-env", "http")
    assert spans[0].resource_attributes["deployment.environment"] == "ci"
    assert {(r.headers["authorization"], r.headers["x-tenant"]) for r in receiver.requests} == {
        ("Bearer tok", "acme")
    }


def test_existing_sdk_providers_are_extended_not_replaced(receiver: OTLPReceiver) -> None:
    report = run_scenario("existing_providers", receiver.grpc_endpoint, insecure=True)

    assert report == {
        "flushed": True,
        "tracer_provider_kept": True,
        "meter_provider_kept": True,
        "app_span_names": ["chat gpt-4o-mini", "rag.aquery"],
        "app_metric_names": ["gen_ai.client.operation.duration", "gen_ai.client.token.usage"],
    }
    # The application's resource is kept; the GenAI buckets come from the instruments' advice.
    assert_span_tree(receiver.wait_for_spans(2), "checkout-app", "grpc")
    assert_genai_metrics(receiver, "grpc")


def test_global_install_is_idempotent(receiver: OTLPReceiver) -> None:
    report = run_scenario("idempotent", receiver.grpc_endpoint, insecure=True, export_metrics=False)

    assert report == {"same_instance": True, "flushed": True}
    assert sorted(span.name for span in receiver.wait_for_spans(2)) == ["chat gpt-4o-mini", "rag.aquery"]
    assert len(receiver.spans) == 2  # flushed at exit too: still each span once


def test_foreign_global_providers_are_left_alone(receiver: OTLPReceiver) -> None:
    report = run_scenario("foreign_provider", receiver.grpc_endpoint, insecure=True)

    assert report["installed"] is True
    assert report["flushed"] is True
    assert report["warnings"] == [
        "the global TracerProvider is a NoOpTracerProvider, not the OpenTelemetry SDK's: OTelExporter cannot "
        "add its span processor to it, so spans are not exported",
        "the global MeterProvider is a NoOpMeterProvider, not the OpenTelemetry SDK's: GenAI metrics are not "
        "exported",
    ]
    assert receiver.requests == []


def test_shutdown_flushes_and_a_new_install_starts_afresh(receiver: OTLPReceiver) -> None:
    report = run_scenario("shutdown_twice", receiver.grpc_endpoint, insecure=True, export_metrics=False)

    assert report == {"installed": False, "reinstalled": True}
    names = sorted(span.name for span in receiver.wait_for_spans(3))
    assert names == ["after-reinstall", "chat gpt-4o-mini", "rag.aquery"]


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_distributed_tracers_name_the_exported_service(receiver: OTLPReceiver, transport: str) -> None:
    endpoint = receiver.grpc_endpoint if transport == "grpc" else f"{receiver.http_endpoint}/v1/traces"
    report = run_scenario(
        "distributed_service_names",
        endpoint,
        env={"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci"},
        insecure=True,
        export_metrics=False,
    )

    assert report == {"flushed": True}
    spans = {span.name: span for span in receiver.wait_for_spans(3)}
    services = {name: span.resource_attributes["service.name"] for name, span in spans.items()}
    # Each DistributedTracer's spans carry its service; other spans keep the exporter's service name.
    assert services == {
        "gateway.request": "gateway",
        "rag.query": "rag-service",
        "chat gpt-4o-mini": "synapsekit",
    }
    assert {span.resource_attributes["deployment.environment"] for span in spans.values()} == {"ci"}
    gateway, rag, chat = spans["gateway.request"], spans["rag.query"], spans["chat gpt-4o-mini"]
    assert (rag.parent_span_id, chat.parent_span_id) == (gateway.span_id, rag.span_id)
    assert {span.trace_id for span in spans.values()} == {gateway.trace_id}
    assert (rag.attributes["synapsekit.service.name"], gateway.scope_name) == ("rag-service", "synapsekit")


def test_zero_code_mode_with_an_empty_service_name_uses_the_default(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    instrument = shutil.which("synapsekit-instrument", path=str(Path(sys.executable).parent))
    assert instrument is not None
    app = tmp_path / "app.py"
    app.write_text("from opentelemetry import trace\ntrace.get_tracer('app').start_span('work').end()\n")
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "SYNAPSEKIT_"))
    }
    environment.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
            "OTEL_SERVICE_NAME": "",  # a bare `OTEL_SERVICE_NAME=` line in an env file
            "SYNAPSEKIT_INSTRUMENT": "none",
        }
    )
    completed = subprocess.run(
        [instrument, sys.executable, str(app)],
        capture_output=True,
        text=True,
        timeout=90,
        env=environment,
        check=False,
    )

    assert (completed.returncode, completed.stderr) == (0, "")
    [span] = receiver.wait_for_spans(1)
    assert (span.name, span.resource_attributes["service.name"]) == ("work", "synapsekit")

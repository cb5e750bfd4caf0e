"""OTelExporter: send synapsekit's spans and GenAI metrics to any OTLP backend.

It configures the OpenTelemetry SDK once per process: an OTLP span exporter behind a BatchSpanProcessor
(export happens on the SDK's worker thread, never on the request path) and an OTLP metric exporter behind
a PeriodicExportingMetricReader. An application that already runs the SDK keeps its providers: the
processor and the reader are added to them.

The SDK and the exporters are imported only when an ``OTelExporter`` is created, so ``import synapsekit``
never pays for them.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from synapsekit import semconv
from synapsekit._otel.endpoints import (
    DEFAULT_SERVICE_NAME,
    OTLPProtocol,
    Target,
    resolve_headers,
    resolve_service_name,
    resolve_target,
)
from synapsekit._otel.metrics import OPERATION_DURATION_BUCKETS, TOKEN_USAGE_BUCKETS

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

__all__ = ["OTelExporter", "OTLPProtocol"]

_logger = logging.getLogger(__name__)

INSTALL_HINT: Final = (
    'OTelExporter needs the OpenTelemetry SDK and OTLP exporters: pip install "synapsekit[otel]"'
)

_SERVICE_NAME_ATTRIBUTE: Final = "service.name"


# -- the SDK side: imported when an OTelExporter is created ------------------------------------------------------------------------------------------


_SDK_MODULES: Final = (
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk.metrics",
)
_EXPORTER_MODULES: Final[Mapping[OTLPProtocol, tuple[str, ...]]] = {
    "grpc": (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    ),
    "http/protobuf": (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    ),
}


def _require_sdk(protocol: OTLPProtocol) -> None:
    for module in (*_SDK_MODULES, *_EXPORTER_MODULES[protocol]):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ImportError(f"{INSTALL_HINT} (cannot import {module}: {error})") from error


def _span_exporter(target: Target, headers: dict[str, str], timeout_s: float | None) -> Any:
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        return GrpcSpanExporter(
            endpoint=target.traces_endpoint, insecure=target.plaintext, headers=headers, timeout=timeout_s
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    return HttpSpanExporter(endpoint=target.traces_endpoint, headers=headers, timeout=timeout_s)


def _metric_exporter(target: Target, headers: dict[str, str], timeout_s: float | None) -> Any:
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(
            endpoint=target.metrics_endpoint, insecure=target.plaintext, headers=headers, timeout=timeout_s
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(endpoint=target.metrics_endpoint, headers=headers, timeout=timeout_s)


def _genai_views() -> list[Any]:
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    return [
        View(
            instrument_name=semconv.METRIC_GEN_AI_TOKEN_USAGE,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=TOKEN_USAGE_BUCKETS),
        ),
        View(
            instrument_name=semconv.METRIC_GEN_AI_OPERATION_DURATION,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=OPERATION_DURATION_BUCKETS),
        ),
    ]


def _resource(service_name: str) -> Any:
    from opentelemetry.sdk.resources import Resource

    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES; the service name given here wins.
    return Resource.create({_SERVICE_NAME_ATTRIBUTE: service_name})


def _global_tracer_provider(service_name: str) -> TracerProvider | None:
    """The application's SDK TracerProvider, or a new global one; None if a foreign provider is set."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    current = trace.get_tracer_provider()
    if isinstance(current, trace.ProxyTracerProvider):
        # Our installation flushes at exit itself, so the provider needs no atexit hook of its own.
        trace.set_tracer_provider(TracerProvider(resource=_resource(service_name), shutdown_on_exit=False))
        current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    _logger.warning(
        "the global TracerProvider is a %s, not the OpenTelemetry SDK's: OTelExporter cannot add its span "
        "processor to it, so spans are not exported",
        type(current).__name__,
    )
    return None


def _attach_to_global_meter_provider(
    service_name: str, make_reader: Callable[[], PeriodicExportingMetricReader]
) -> tuple[PeriodicExportingMetricReader | None, MeterProvider | None, bool]:
    """A new reader and the global MeterProvider it reports from, and whether we created that provider.

    (None, None, False) when the global provider is not the SDK's and cannot take a reader.
    """
    from opentelemetry import metrics
    from opentelemetry.metrics._internal import _ProxyMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider

    current = metrics.get_meter_provider()
    # The API has no public way to tell "nothing installed yet" from a foreign provider but its proxy class.
    if isinstance(current, _ProxyMeterProvider):
        reader = make_reader()
        provider = MeterProvider(
            metric_readers=[reader],
            resource=_resource(service_name),
            views=_genai_views(),
            shutdown_on_exit=False,
        )
        metrics.set_meter_provider(provider)
        if metrics.get_meter_provider() is provider:
            return reader, provider, True
        provider.shutdown()  # another thread installed one first: join that one instead
        current = metrics.get_meter_provider()
    if isinstance(current, MeterProvider):
        reader = make_reader()
        _add_reader(current, reader)
        return reader, current, False
    _logger.warning(
        "the global MeterProvider is a %s, not the OpenTelemetry SDK's: GenAI metrics are not exported",
        type(current).__name__,
    )
    return None, None, False


def _add_reader(provider: MeterProvider, reader: PeriodicExportingMetricReader) -> None:
    # Views cannot be added to an existing MeterProvider; the instruments' advisory boundaries give the
    # GenAI buckets anyway.
    provider.add_metric_reader(reader)


@dataclass(frozen=True)
class _InstallKey:
    tracer_provider_id: int
    protocol: OTLPProtocol
    traces_endpoint: str


class _Installation:
    """One span processor (and metric reader) installed for one endpoint; shut down at most once."""

    def __init__(
        self,
        key: _InstallKey,
        span_processor: SpanProcessor | None,
        metric_reader: PeriodicExportingMetricReader | None,
        meter_provider: MeterProvider | None,
        owns_meter_provider: bool,
    ) -> None:
        self.key = key
        self.span_processor = span_processor
        self.metric_reader = metric_reader
        self.meter_provider = meter_provider
        self.owns_meter_provider = owns_meter_provider
        self._shut_down = False
        self._lock = threading.Lock()

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    def force_flush(self, timeout_millis: int) -> bool:
        if self._shut_down:
            return False
        flushed = True
        if self.span_processor is not None:
            flushed = self.span_processor.force_flush(timeout_millis) and flushed
        if self.metric_reader is not None:
            flushed = self.metric_reader.force_flush(timeout_millis) and flushed
        return flushed

    def shutdown(self) -> None:
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        atexit.unregister(self.shutdown)
        with _registry_lock:
            if _installations.get(self.key) is self:
                del _installations[self.key]
        # BatchSpanProcessor.shutdown exports what is still queued before returning.
        if self.span_processor is not None:
            self.span_processor.shutdown()
        if self.metric_reader is not None and self.meter_provider is not None:
            if self.owns_meter_provider:
                self.meter_provider.shutdown()
            else:
                # The reader's final collection needs it attached, and detaching it afterwards would shut
                # it down a second time (a logged warning); a shut-down reader left attached exports nothing.
                self.metric_reader.shutdown()


_registry_lock = threading.Lock()
_installations: dict[_InstallKey, _Installation] = {}


# -- the public facade -------------------------------------------------------------------------------------


class OTelExporter:
    """Export traces (and the GenAI metrics) to an OpenTelemetry collector or backend over OTLP.

    ``OTelExporter(endpoint="http://localhost:4317", insecure=True).install()``

    ``endpoint`` picks the transport: port 4317 or ``grpc://`` is gRPC; port 4318 or a ``/v1/traces`` path
    is HTTP/protobuf; otherwise ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``/``OTEL_EXPORTER_OTLP_PROTOCOL``,
    else gRPC. ``protocol`` forces one. ``headers`` default to ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` /
    ``OTEL_EXPORTER_OTLP_HEADERS``. A plaintext ``http://`` endpoint needs ``insecure=True``.
    """

    def __init__(
        self,
        endpoint: str,
        service_name: str = DEFAULT_SERVICE_NAME,
        headers: Mapping[str, str] | None = None,
        insecure: bool = False,
        *,
        protocol: OTLPProtocol | None = None,
        export_metrics: bool = True,
        metric_export_interval_s: float | None = None,
        timeout_s: float | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        if not endpoint or not endpoint.strip():
            raise ValueError("OTelExporter needs an endpoint, e.g. 'http://localhost:4317'")
        if metric_export_interval_s is not None and metric_export_interval_s <= 0:
            raise ValueError(f"metric_export_interval_s must be > 0, got {metric_export_interval_s!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.endpoint = endpoint.strip()
        self.insecure = insecure
        self.service_name = resolve_service_name(service_name)
        self._target = resolve_target(self.endpoint, insecure=insecure, protocol=protocol)
        _require_sdk(self._target.protocol)
        self.headers = resolve_headers(headers, "traces")
        self._metric_headers = resolve_headers(headers, "metrics")
        self.export_metrics = export_metrics
        self.metric_export_interval_s = metric_export_interval_s
        self.timeout_s = timeout_s
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._installation: _Installation | None = None

    @property
    def protocol(self) -> OTLPProtocol:
        return self._target.protocol

    @property
    def traces_endpoint(self) -> str:
        return self._target.traces_endpoint

    @property
    def metrics_endpoint(self) -> str:
        return self._target.metrics_endpoint

    @property
    def installed(self) -> bool:
        return self._installation is not None and not self._installation.is_shut_down

    def __repr__(self) -> str:
        # Headers usually carry credentials: never show them.
        return (
            f"OTelExporter(endpoint={self.endpoint!r}, service_name={self.service_name!r}, "
            f"protocol={self.protocol!r}, installed={self.installed})"
        )

    def install(self) -> OTelExporter:
        """Start exporting. Installing the same endpoint again (from any instance) adds nothing."""
        with _registry_lock:
            if self.installed:
                return self
            provider = self._tracer_provider
            if provider is None:
                provider = _global_tracer_provider(self.service_name)
            key = _InstallKey(id(provider), self._target.protocol, self._target.traces_endpoint)
            existing = _installations.get(key)
            if existing is not None:
                self._installation = existing
                return self
            self._installation = _installations[key] = self._install(key, provider)
        if self.export_metrics:
            from synapsekit._core import sinks as _sinks
            from synapsekit._otel.metrics import genai_metrics_sink

            _sinks.add_sink(genai_metrics_sink)
        atexit.register(self._installation.shutdown)
        return self

    def _install(self, key: _InstallKey, tracer_provider: TracerProvider | None) -> _Installation:
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        span_processor = None
        if tracer_provider is not None:
            span_processor = BatchSpanProcessor(_span_exporter(self._target, self.headers, self.timeout_s))
            tracer_provider.add_span_processor(span_processor)

        reader: PeriodicExportingMetricReader | None = None
        meter_provider: MeterProvider | None = None
        owns_meter_provider = False
        if self.export_metrics:

            def make_reader() -> PeriodicExportingMetricReader:
                interval_s = self.metric_export_interval_s
                return PeriodicExportingMetricReader(
                    _metric_exporter(self._target, self._metric_headers, self.timeout_s),
                    export_interval_millis=None if interval_s is None else interval_s * 1000,
                )

            if self._meter_provider is not None:
                reader, meter_provider = make_reader(), self._meter_provider
                _add_reader(meter_provider, reader)
            else:
                reader, meter_provider, owns_meter_provider = _attach_to_global_meter_provider(
                    self.service_name, make_reader
                )
        return _Installation(key, span_processor, reader, meter_provider, owns_meter_provider)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything recorded so far; True when every export finished in time."""
        return self._installation.force_flush(timeout_millis) if self._installation is not None else False

    def shutdown(self) -> None:
        """Flush and stop exporting to this endpoint (also run automatically at interpreter exit)."""
        if self._installation is not None:
            self._installation.shutdown()

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
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from synapsekit import semconv
from synapsekit._otel.accounting import ExportCounts, OTelExportStats
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

    from synapsekit._otel.pipeline import CountingMetricExporter, CountingSpanExporter

__all__ = ["OTelExportStats", "OTelExporter", "OTLPProtocol"]

_logger = logging.getLogger(__name__)

INSTALL_HINT: Final = (
    'OTelExporter needs the OpenTelemetry SDK and OTLP exporters: pip install "synapsekit[otel]"'
)

_SERVICE_NAME_ATTRIBUTE: Final = "service.name"

SHUTDOWN_TIMEOUT_ENV: Final = "SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S"
# Long enough for a healthy collector to take the last batch, short enough that a dead one does not hold
# the process's exit hostage (each SDK export alone may wait 10 s, and spans and metrics export in turn).
DEFAULT_SHUTDOWN_TIMEOUT_S: Final = 3.0


def _seconds(name: str, value: object) -> float | None:
    """``value`` as a finite number of seconds > 0, or None; a TypeError/ValueError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def _shutdown_timeout_from_environment() -> float:
    raw = os.environ.get(SHUTDOWN_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_SHUTDOWN_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SHUTDOWN_TIMEOUT_ENV} must be a number of seconds > 0, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{SHUTDOWN_TIMEOUT_ENV} must be a finite number of seconds > 0, got {raw!r}")
    return value


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
        created = TracerProvider(resource=_resource(service_name), shutdown_on_exit=False)
        trace.set_tracer_provider(created)
        current = trace.get_tracer_provider()
        if current is created:
            with _service_providers_lock:
                _service_providers[created] = {}
    if isinstance(current, TracerProvider):
        return current
    _logger.warning(
        "the global TracerProvider is a %s, not the OpenTelemetry SDK's: OTelExporter cannot add its span "
        "processor to it, so spans are not exported",
        type(current).__name__,
    )
    return None


# The global TracerProviders OTelExporter created, each with the per-service providers that share its
# pipeline (see tracer_provider_for_service). Weak: a provider replaced in tests must not be kept alive.
_service_providers_lock = threading.Lock()
_service_providers: weakref.WeakKeyDictionary[TracerProvider, dict[str, TracerProvider]] = (
    weakref.WeakKeyDictionary()
)


def tracer_provider_for_service(service_name: str) -> TracerProvider | None:
    """A TracerProvider whose spans carry ``service.name = service_name``, when synapsekit made the global one.

    The resource belongs to the provider, and one process may hold several services (a DistributedTracer
    each). For the global provider OTelExporter created, a service other than the provider's own gets a
    sibling provider with the same span processors, sampler, id generator and limits, so its spans go
    through the same export pipeline under their own resource. None means "use the global provider as it
    is": it already names this service, or it is the application's own (its resource is not ours to
    change), or no SDK is configured yet.
    """
    if not _service_providers:
        return None  # OTelExporter made no provider: the SDK may not even be loaded, and stays so
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        return None
    with _service_providers_lock:
        siblings = _service_providers.get(current)
        if siblings is None or current.resource.attributes.get(_SERVICE_NAME_ATTRIBUTE) == service_name:
            return None
        sibling = siblings.get(service_name)
        if sibling is None:
            sibling = siblings[service_name] = _sibling_provider(current, service_name)
        return sibling


def _sibling_provider(provider: TracerProvider, service_name: str) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider(
        sampler=provider.sampler,
        resource=provider.resource.merge(Resource({_SERVICE_NAME_ATTRIBUTE: service_name})),
        # Shutdown and flushing belong to the global provider and OTelExporter's installation.
        shutdown_on_exit=False,
        active_span_processor=provider._active_span_processor,
        id_generator=provider.id_generator,
        span_limits=provider._span_limits,
    )


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


def _run_in_parallel(steps: list[tuple[str, Callable[[], object]]], timeout_s: float) -> list[object] | None:
    """Run ``steps`` on daemon threads at once; their results, or None if any is still running at the
    deadline (it is then abandoned: a daemon thread does not hold up the interpreter's exit)."""
    results: list[object] = [None] * len(steps)

    def run(index: int, step: Callable[[], object]) -> None:
        try:
            results[index] = step()
        except Exception:
            _logger.exception("OTelExporter: %s failed", steps[index][0])
            results[index] = False

    threads = [
        threading.Thread(target=run, args=(index, step), name=f"synapsekit-otel-{name}", daemon=True)
        for index, (name, step) in enumerate(steps)
    ]
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return None if any(thread.is_alive() for thread in threads) else results


class _Installation:
    """One span processor (and metric reader) installed for one endpoint; shut down at most once."""

    def __init__(
        self,
        key: _InstallKey,
        endpoint: str,
        counts: ExportCounts,
        shutdown_timeout_s: float,
        span_processor: SpanProcessor | None,
        span_exporter: CountingSpanExporter | None,
        metric_reader: PeriodicExportingMetricReader | None,
        metric_exporter: CountingMetricExporter | None,
        meter_provider: MeterProvider | None,
        owns_meter_provider: bool,
    ) -> None:
        self.key = key
        self.endpoint = endpoint
        self.counts = counts
        self.shutdown_timeout_s = shutdown_timeout_s
        self.span_processor = span_processor
        self.span_exporter = span_exporter
        self.metric_reader = metric_reader
        self.metric_exporter = metric_exporter
        self.meter_provider = meter_provider
        self.owns_meter_provider = owns_meter_provider
        self._shut_down = False
        self._lock = threading.Lock()

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    def force_flush(self, timeout_millis: float) -> bool:
        if self._shut_down:
            return False
        failed_before = self.counts.failed_exports
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.span_processor is not None:
            steps.append(("flush-spans", partial(self.span_processor.force_flush, int(timeout_millis))))
        if self.metric_reader is not None:
            steps.append(("flush-metrics", partial(self.metric_reader.force_flush, timeout_millis)))
        # The SDK's own answers are True whatever the exports returned: the counts tell whether they went out.
        results = _run_in_parallel(steps, timeout_millis / 1000)
        return (
            results is not None
            and all(result is True for result in results)
            and self.counts.failed_exports == failed_before
        )

    def shutdown(self) -> OTelExportStats:
        with self._lock:
            if self._shut_down:
                return self.counts.snapshot()
            self._shut_down = True
        atexit.unregister(self.shutdown)
        with _registry_lock:
            if _installations.get(self.key) is self:
                del _installations[self.key]
        # Spans and metrics flush side by side under one deadline, not one full export timeout after the
        # other: a dead collector would otherwise hold the process's exit for 20-40 s.
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.span_processor is not None:
            # BatchSpanProcessor.shutdown exports what is still queued before returning.
            steps.append(("shutdown-spans", self.span_processor.shutdown))
        if self.metric_reader is not None and self.meter_provider is not None:
            timeout_millis = self.shutdown_timeout_s * 1000
            if self.owns_meter_provider:
                steps.append(("shutdown-metrics", partial(self.meter_provider.shutdown, timeout_millis)))
            else:
                # The reader's final collection needs it attached, and detaching it afterwards would shut
                # it down a second time (a logged warning); a shut-down reader left attached exports nothing.
                steps.append(("shutdown-metrics", partial(self.metric_reader.shutdown, timeout_millis)))
        if _run_in_parallel(steps, self.shutdown_timeout_s) is None:
            # Refuse what is still queued and end the exports in flight; both count as dropped.
            for exporter in (self.span_exporter, self.metric_exporter):
                if exporter is not None:
                    exporter.cut_off()
        stats = self.counts.close()
        self._log(stats)
        return stats

    def _log(self, stats: OTelExportStats) -> None:
        dropped = stats.spans_dropped or stats.metric_points_dropped
        _logger.log(
            logging.WARNING if dropped else logging.DEBUG,
            "OTelExporter shut down (%s, deadline %gs): dropped %d spans and %d metric points, "
            "exported %d spans and %d metric points",
            self.endpoint,
            self.shutdown_timeout_s,
            stats.spans_dropped,
            stats.metric_points_dropped,
            stats.spans_exported,
            stats.metric_points_exported,
        )


_registry_lock = threading.Lock()
_installations: dict[_InstallKey, _Installation] = {}


def _check_provider(name: str, provider: object, module: str, class_name: str) -> None:
    if provider is not None and not isinstance(
        provider, getattr(importlib.import_module(module), class_name)
    ):
        raise TypeError(
            f"{name} must be an OpenTelemetry SDK {class_name} ({module}), got {type(provider).__name__}"
        )


# -- the public facade -------------------------------------------------------------------------------------


class OTelExporter:
    """Export traces (and the GenAI metrics) to an OpenTelemetry collector or backend over OTLP.

    ``OTelExporter(endpoint="http://localhost:4317", insecure=True).install()``

    ``endpoint`` picks the transport: port 4317 or ``grpc://`` is gRPC; port 4318 or a ``/v1/traces`` path
    is HTTP/protobuf; otherwise ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``/``OTEL_EXPORTER_OTLP_PROTOCOL``,
    else gRPC. ``protocol`` forces one. ``headers`` default to ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` /
    ``OTEL_EXPORTER_OTLP_HEADERS``. A plaintext ``http://`` endpoint needs ``insecure=True``.
    ``shutdown_timeout_s`` (default ``SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S``, else 3 s) bounds the whole
    shutdown, spans and metrics flushed side by side; :attr:`stats` counts what was exported and dropped.
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
        shutdown_timeout_s: float | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        # Configuration mistakes surface here, naming the argument, not later in an export thread.
        if not isinstance(endpoint, str):
            raise TypeError(
                f"endpoint must be a URL string such as 'http://localhost:4317', got {type(endpoint).__name__}"
                f" {endpoint!r}"
            )
        if not endpoint.strip():
            raise ValueError("OTelExporter needs an endpoint, e.g. 'http://localhost:4317'")
        if not isinstance(service_name, str):
            raise TypeError(
                f"service_name must be a string, got {type(service_name).__name__} {service_name!r}"
            )
        if not service_name.strip():
            raise ValueError("service_name must not be empty")
        if headers is not None and (
            not isinstance(headers, Mapping)
            or not all(isinstance(key, str) and isinstance(value, str) for key, value in headers.items())
        ):
            raise TypeError(
                f"headers must be a mapping of str to str such as {{'api-key': '...'}}, got "
                f"{type(headers).__name__}"
            )
        for flag_name, flag in (("insecure", insecure), ("export_metrics", export_metrics)):
            if not isinstance(flag, bool):
                raise TypeError(f"{flag_name} must be True or False, got {type(flag).__name__} {flag!r}")
        self.metric_export_interval_s = _seconds("metric_export_interval_s", metric_export_interval_s)
        self.timeout_s = _seconds("timeout_s", timeout_s)
        resolved_shutdown_timeout_s = _seconds("shutdown_timeout_s", shutdown_timeout_s)
        self.shutdown_timeout_s = (
            _shutdown_timeout_from_environment()
            if resolved_shutdown_timeout_s is None
            else resolved_shutdown_timeout_s
        )
        self.endpoint = endpoint.strip()
        self.insecure = insecure
        self.service_name = resolve_service_name(service_name)
        self._target = resolve_target(self.endpoint, insecure=insecure, protocol=protocol)
        _require_sdk(self._target.protocol)
        _check_provider("tracer_provider", tracer_provider, "opentelemetry.sdk.trace", "TracerProvider")
        _check_provider("meter_provider", meter_provider, "opentelemetry.sdk.metrics", "MeterProvider")
        self.headers = resolve_headers(headers, "traces")
        self._metric_headers = resolve_headers(headers, "metrics")
        self.export_metrics = export_metrics
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

    @property
    def stats(self) -> OTelExportStats:
        """Spans and metric points exported and dropped since :meth:`install` (all zero before it).

        Exporters installed for the same endpoint share one installation, and so these counts.
        """
        if self._installation is None:
            return OTelExportStats()
        return self._installation.counts.snapshot()

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

        from synapsekit._otel.pipeline import (
            CountingMetricExporter,
            CountingSpanExporter,
            CountingSpanProcessor,
        )

        counts = ExportCounts()
        span_processor: SpanProcessor | None = None
        span_exporter: CountingSpanExporter | None = None
        if tracer_provider is not None:
            span_exporter = CountingSpanExporter(
                _span_exporter(self._target, self.headers, self.timeout_s), counts
            )
            span_processor = CountingSpanProcessor(BatchSpanProcessor(span_exporter), counts)
            tracer_provider.add_span_processor(span_processor)

        reader: PeriodicExportingMetricReader | None = None
        metric_exporter: CountingMetricExporter | None = None
        meter_provider: MeterProvider | None = None
        owns_meter_provider = False
        if self.export_metrics:

            def make_reader() -> PeriodicExportingMetricReader:
                nonlocal metric_exporter
                interval_s = self.metric_export_interval_s
                metric_exporter = CountingMetricExporter(
                    _metric_exporter(self._target, self._metric_headers, self.timeout_s), counts
                )
                return PeriodicExportingMetricReader(
                    metric_exporter,
                    export_interval_millis=None if interval_s is None else interval_s * 1000,
                )

            if self._meter_provider is not None:
                reader, meter_provider = make_reader(), self._meter_provider
                _add_reader(meter_provider, reader)
            else:
                reader, meter_provider, owns_meter_provider = _attach_to_global_meter_provider(
                    self.service_name, make_reader
                )
        return _Installation(
            key,
            self.endpoint,
            counts,
            self.shutdown_timeout_s,
            span_processor,
            span_exporter,
            reader,
            metric_exporter if reader is not None else None,
            meter_provider,
            owns_meter_provider,
        )

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """Export everything recorded so far, waiting at most ``timeout_millis``.

        True only when every export made meanwhile was accepted by the collector; False when one was
        refused or timed out, when the flush did not finish in time, or when nothing is installed.
        :attr:`stats` says how much went out and how much was dropped.
        """
        if isinstance(timeout_millis, bool) or not isinstance(timeout_millis, (int, float)):
            raise TypeError(f"timeout_millis must be a number, got {type(timeout_millis).__name__}")
        if not math.isfinite(timeout_millis) or timeout_millis <= 0:
            raise ValueError(f"timeout_millis must be a finite number > 0, got {timeout_millis!r}")
        return self._installation.force_flush(timeout_millis) if self._installation is not None else False

    def shutdown(self) -> None:
        """Flush spans and metrics side by side for at most ``shutdown_timeout_s`` seconds, then stop
        exporting to this endpoint; what did not go out is dropped and logged with its counts. Also run
        at interpreter exit."""
        if self._installation is not None:
            self._installation.shutdown()

"""``PrometheusMetrics``: LLM cost, token, latency, error and budget metrics for Prometheus.

Two ways in. The spec's explicit calls (:meth:`PrometheusMetrics.record_llm`,
:meth:`PrometheusMetrics.record_span`), and ambient recording: :meth:`PrometheusMetrics.attach` (or
``synapsekit.instrument(metrics=prom)``) makes it a process-wide sink that records every LLM call the core
sees, once per provider request, plus budget events. Use one or the other for a given call, not both, or
it is counted twice.

prometheus-client is imported only when an enabled instance is created; ``enabled=False`` makes every
method a no-op and needs no prometheus-client at all.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from synapsekit import semconv
from synapsekit.observability._prometheus_instruments import (
    Instruments,
    create_instruments,
    validate_namespace,
)
from synapsekit.observability._prometheus_labels import (
    DEFAULT_MAX_LABEL_VALUES,
    LabelLimiter,
    model_label,
    plain_label,
)
from synapsekit.observability._prometheus_server import MetricsServer, scrape_registry, serve

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from synapsekit._call import LLMCall

__all__ = ["INSTALL_HINT", "LLM_SPAN_NAME", "BudgetEventLike", "PrometheusMetrics", "SpanLike"]

INSTALL_HINT: Final = 'pip install "synapsekit[observe]"'
LLM_SPAN_NAME: Final = "llm.generate"
UNNAMED_BUDGET: Final = "unnamed"
# Raw (model, provider) pairs whose label values are remembered; past this, labels are computed per call.
_MAX_CACHED_LABEL_KEYS: Final = 1024
# Settlements carry the remaining USD; a reservation's figure is superseded when its call settles.
_BUDGET_EVENT_KINDS: Final = ("settled", "rejected", "exceeded")

_Child = TypeVar("_Child")


class SpanLike(Protocol):
    """What :meth:`PrometheusMetrics.record_span` reads: the fields of the spec's ``Span``."""

    @property
    def name(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    @property
    def duration_ms(self) -> float | None: ...

    @property
    def status(self) -> str: ...


class BudgetEventLike(Protocol):
    """What :meth:`PrometheusMetrics.on_budget_event` reads from a budget's event."""

    @property
    def kind(self) -> str: ...

    @property
    def budget_name(self) -> str | None: ...

    @property
    def window(self) -> str: ...

    @property
    def remaining_usd(self) -> float | Decimal | None: ...


class _Children(Generic[_Child]):
    """``metric.labels(...)`` resolved once per label combination, so recording is a dict lookup.

    The label values are bounded by the :class:`LabelLimiter`, so the cache is too.
    """

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], _Child] = {}

    def get(self, *values: str) -> _Child:
        child = self._cache.get(values)
        if child is None:
            # Racing threads get the same child back from prometheus-client, so no lock is needed.
            child = self._cache[values] = self._metric.labels(*values)
        return child


def _import_prometheus_client() -> None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"PrometheusMetrics needs the prometheus-client package: {INSTALL_HINT}") from exc


def _non_negative(name: str, value: float | Decimal | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not number >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def _number(value: object) -> float | None:
    """A numeric span attribute, or None when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    return float(value)


class PrometheusMetrics:
    """Exports LLM cost, token and latency metrics to Prometheus, labelled by model and provider.

    ``registry=None`` creates a private ``CollectorRegistry`` (several instances never collide);
    ``max_label_values`` caps the distinct values of each label (extra ones are reported as ``"other"``).
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        namespace: str = "synapsekit",
        registry: Any | None = None,
        start_server: bool = False,
        host: str = "0.0.0.0",
        port: int = 8000,
        max_label_values: int = DEFAULT_MAX_LABEL_VALUES,
    ) -> None:
        self.enabled = enabled
        self.namespace = validate_namespace(namespace)
        self._labels = LabelLimiter(max_label_values)
        self._lock = threading.Lock()
        self._server: MetricsServer | None = None
        self._attached = False
        self._budget_listener_added = False
        self._registry: CollectorRegistry | None = None
        self._instruments: Instruments | None = None
        self._label_keys: dict[tuple[str | None, str | None], tuple[str, str]] = {}
        if not enabled:
            return
        _import_prometheus_client()
        from prometheus_client import CollectorRegistry

        self._registry = CollectorRegistry() if registry is None else registry
        instruments = self._instruments = create_instruments(namespace, self._registry)
        self._cost: _Children[Any] = _Children(instruments.cost)
        self._tokens: _Children[Any] = _Children(instruments.tokens)
        self._latency: _Children[Any] = _Children(instruments.latency)
        self._tokens_by_type: _Children[Any] = _Children(instruments.tokens_by_type)
        self._requests: _Children[Any] = _Children(instruments.requests)
        self._errors: _Children[Any] = _Children(instruments.errors)
        self._time_to_first_chunk: _Children[Any] = _Children(instruments.time_to_first_chunk)
        self._unknown_cost_calls: _Children[Any] = _Children(instruments.unknown_cost_calls)
        self._budget_remaining: _Children[Any] = _Children(instruments.budget_remaining)
        self._budget_rejections: _Children[Any] = _Children(instruments.budget_rejections)
        if start_server:
            self.start_http_server(host=host, port=port)

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def registry(self) -> CollectorRegistry | None:
        """The registry the metrics are registered in (``None`` when disabled)."""
        return self._registry

    @property
    def http_port(self) -> int | None:
        """The port the scrape endpoint listens on (useful with ``port=0``), or ``None`` if not started."""
        server = self._server
        return None if server is None else server.port

    def expose(self) -> bytes:
        """The metrics in Prometheus text format, as a scrape sees them (all workers in multiprocess mode).

        For serving ``/metrics`` from the application's own web framework.
        """
        if self._registry is None:
            return b""
        from prometheus_client import generate_latest

        return generate_latest(scrape_registry(self._registry))

    # -- the scrape endpoint ---------------------------------------------------------------------------------
    def start_http_server(self, *, host: str = "0.0.0.0", port: int = 8000) -> None:
        """Serve the metrics over HTTP on ``host:port``; a no-op if already started (or disabled).

        Raises ``OSError`` naming the port when it is already in use.
        """
        if self._registry is None:
            return
        with self._lock:
            if self._server is not None:
                return
            self._server = serve(scrape_registry(self._registry), host=host, port=port)

    def close(self) -> None:
        """Detach from the ambient instrumentation and stop the scrape endpoint, if started."""
        self.detach()
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()

    # -- the spec's explicit recording ---------------------------------------------------------------------
    def record_llm(
        self,
        *,
        model: str,
        provider: str,
        cost_usd: float | None,
        total_tokens: int | None,
        latency_ms: float | None,
    ) -> None:
        """Record one successful LLM call; ``None`` values are skipped."""
        if self._instruments is None:
            return
        cost = _non_negative("cost_usd", cost_usd)
        tokens = _non_negative("total_tokens", total_tokens)
        latency_ms_value = _non_negative("latency_ms", latency_ms)
        key = self._model_provider(model, provider)
        self._requests.get(*key, "ok").inc()
        if cost is not None:
            self._cost.get(*key).inc(cost)
        if tokens is not None:
            self._tokens.get(*key).inc(tokens)
        if latency_ms_value is not None:
            self._latency.get(*key).observe(latency_ms_value / 1000)

    def record_span(self, span: SpanLike) -> None:
        """Record the LLM call a finished ``llm.generate`` span describes; other spans are ignored."""
        if self._instruments is None or span.name != LLM_SPAN_NAME:
            return
        attributes = span.attributes or {}
        model = attributes.get(semconv.GEN_AI_RESPONSE_MODEL) or attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        provider = attributes.get(semconv.GEN_AI_PROVIDER_NAME)
        key = self._model_provider(
            model if isinstance(model, str) else None, provider if isinstance(provider, str) else None
        )
        if span.status == "error":
            error_type = attributes.get(semconv.ERROR_TYPE)
            self._record_error(key, error_type if isinstance(error_type, str) else None)
        else:
            self._requests.get(*key, "ok").inc()
            latency_ms = _number(span.duration_ms)
            if latency_ms is not None and latency_ms >= 0:
                self._latency.get(*key).observe(latency_ms / 1000)
        input_tokens = _number(attributes.get(semconv.GEN_AI_USAGE_INPUT_TOKENS))
        output_tokens = _number(attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS))
        self._record_tokens(key, input_tokens, output_tokens)
        cost = _number(attributes.get(semconv.GEN_AI_USAGE_COST))
        if cost is not None and cost >= 0:
            self._cost.get(*key).inc(cost)

    # -- ambient recording (the core's sink protocol) ------------------------------------------------------
    def attach(self) -> None:
        """Record every LLM call in the process, and budget events; idempotent.

        ``synapsekit.instrument(metrics=prom)`` calls it.
        """
        if self._instruments is None:
            return
        from synapsekit import _sinks

        with self._lock:
            if self._attached:
                return
            self._attached = True
        _sinks.add_sink(self)
        self._budget_listener_added = _subscribe_to_budgets(self.on_budget_event)

    def detach(self) -> None:
        """Stop recording ambient calls and budget events; idempotent."""
        from synapsekit import _sinks

        with self._lock:
            if not self._attached:
                return
            self._attached = False
        _sinks.remove_sink(self)
        if self._budget_listener_added:
            _unsubscribe_from_budgets(self.on_budget_event)
            self._budget_listener_added = False

    def on_call_start(self, call: LLMCall) -> None:
        """Nothing to record until the call ends."""

    def on_call_end(self, call: LLMCall) -> None:
        if self._instruments is None:
            return
        key = self._model_provider(call.model, call.provider)
        if call.rejected:
            # Nothing was sent: no tokens, cost or latency. The budget that refused it reports the rejection
            # itself (on_budget_event), with its name.
            self._requests.get(*key, "rejected").inc()
            return
        if call.error_type is not None:
            self._record_error(key, call.error_type)
        else:
            self._requests.get(*key, "ok").inc()
            if call.latency_s is not None:
                self._latency.get(*key).observe(call.latency_s)
        if call.time_to_first_chunk_s is not None:
            self._time_to_first_chunk.get(*key).observe(call.time_to_first_chunk_s)
        self._record_tokens(key, call.input_tokens, call.output_tokens)
        by_type = self._tokens_by_type
        if call.cached_input_tokens:
            by_type.get(*key, "cached_input").inc(call.cached_input_tokens)
        if call.cache_creation_input_tokens:
            by_type.get(*key, "cache_creation").inc(call.cache_creation_input_tokens)
        if call.reasoning_tokens:
            by_type.get(*key, "reasoning").inc(call.reasoning_tokens)
        if call.cost is not None:
            self._cost.get(*key).inc(float(call.cost))
        elif call.total_tokens:
            # Counted, never silently $0: the dashboard shows how much spend is missing from the total.
            self._unknown_cost_calls.get(*key).inc()

    def on_budget_event(self, event: BudgetEventLike) -> None:
        """Record a budget's rejections and its remaining USD; :meth:`attach` subscribes this to budgets."""
        if self._instruments is None:
            return
        budget = self._budget_label(event.budget_name)
        if event.kind == "rejected":
            self._budget_rejections.get(budget).inc()
        remaining = event.remaining_usd
        if remaining is not None:
            window = self._labels.limit("window", plain_label(event.window))
            self._budget_remaining.get(budget, window).set(float(remaining))

    # -- helpers ---------------------------------------------------------------------------------------------
    def _model_provider(self, model: str | None, provider: str | None) -> tuple[str, str]:
        raw = (model, provider)
        key = self._label_keys.get(raw)
        if key is None:
            # Normalising a model name costs more than the rest of a call's recording. The answer for a raw
            # pair never changes (the label limiter only ever admits more values, and rejects for good).
            limit = self._labels.limit
            key = limit("model", model_label(model)), limit("provider", plain_label(provider))
            if len(self._label_keys) < _MAX_CACHED_LABEL_KEYS:
                self._label_keys[raw] = key
        return key

    def _budget_label(self, name: str | None) -> str:
        return self._labels.limit("budget", (name or "").strip() or UNNAMED_BUDGET)

    def _record_error(self, key: tuple[str, str], error_type: str | None) -> None:
        self._requests.get(*key, "error").inc()
        error_label = self._labels.limit("error_type", (error_type or "").strip() or "Error")
        self._errors.get(*key, error_label).inc()

    def _record_tokens(
        self, key: tuple[str, str], input_tokens: float | None, output_tokens: float | None
    ) -> None:
        if input_tokens is None and output_tokens is None:
            return
        if input_tokens is not None and input_tokens >= 0:
            self._tokens_by_type.get(*key, "input").inc(input_tokens)
        if output_tokens is not None and output_tokens >= 0:
            self._tokens_by_type.get(*key, "output").inc(output_tokens)
        total = max(input_tokens or 0, 0) + max(output_tokens or 0, 0)
        self._tokens.get(*key).inc(total)

    def __repr__(self) -> str:
        state = "disabled" if self._instruments is None else f"namespace={self.namespace!r}"
        return f"PrometheusMetrics({state}, attached={self._attached}, http_port={self.http_port})"


def _subscribe_to_budgets(listener: Any) -> bool:
    from synapsekit._budget import add_budget_listener

    add_budget_listener(listener, kinds=_BUDGET_EVENT_KINDS)
    return True


def _unsubscribe_from_budgets(listener: Any) -> None:
    from synapsekit._budget import remove_budget_listener

    remove_budget_listener(listener)

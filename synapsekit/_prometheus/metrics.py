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

import math
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol

from synapsekit import semconv
from synapsekit._pricing.preload import preload_prices
from synapsekit._prometheus.instruments import (
    Instruments,
    create_instruments,
    validate_namespace,
)
from synapsekit._prometheus.labels import (
    DEFAULT_MAX_LABEL_VALUES,
    LabelLimiter,
    model_label,
    plain_label,
)
from synapsekit._prometheus.series import BudgetSeries, CallSeries, Children
from synapsekit._prometheus.server import MetricsServer, scrape_registry, serve

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from synapsekit._core.call import LLMCall

__all__ = ["INSTALL_HINT", "LLM_SPAN_NAME", "BudgetEventLike", "PrometheusMetrics", "SpanLike"]

INSTALL_HINT: Final = 'pip install "synapsekit[observe]"'
LLM_SPAN_NAME: Final = "llm.generate"
UNNAMED_BUDGET: Final = "unnamed"
# Raw (model, provider) and (budget name, window) pairs whose label values and writers are remembered; past
# this, a new pair's labels are computed per call.
_MAX_CACHED_LABEL_KEYS: Final = 1024
# Settlements carry the remaining USD; a reservation's figure is superseded when its call settles.
_BUDGET_EVENT_KINDS: Final = ("settled", "rejected", "exceeded")
_INF: Final = math.inf


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

    @property
    def amount_usd(self) -> float | Decimal | None: ...


def _import_prometheus_client() -> None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"PrometheusMetrics needs the prometheus-client package: {INSTALL_HINT}") from exc


def _shown(value: object) -> str:
    return "None" if value is None else f"{type(value).__name__} {value!r}"


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {_shown(value)}")
    return value


def _check_registry(registry: object) -> None:
    # Duck-typed, so that a disabled instance still needs no prometheus-client: what the metrics and a
    # scrape call on a registry.
    if registry is None or (
        callable(getattr(registry, "register", None)) and callable(getattr(registry, "collect", None))
    ):
        return
    raise TypeError(f"registry must be a prometheus_client CollectorRegistry or None, got {_shown(registry)}")


def _check_address(host: object, port: object) -> None:
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, got {_shown(host)}")
    if not host:
        raise ValueError("host must not be empty (use '0.0.0.0' for every interface)")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an integer in 0..65535, got {_shown(port)}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer in 0..65535, got {port}")


def _non_negative(name: str, value: float | Decimal | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not number >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def _token_amounts(
    input_tokens: float | None, output_tokens: float | None
) -> tuple[float | None, float | None, float | None]:
    """The input, output and total token amounts to record, each None when not recorded.

    A count < 0 (or NaN) is not recorded and adds nothing to the total; no counts at all, no total.
    ``on_call_end`` has this inline.
    """
    if input_tokens is None and output_tokens is None:
        return None, None, None
    # max(count, 0) for each, without two builtin calls.
    input_count = input_tokens or 0
    output_count = output_tokens or 0
    total = (0 if input_count < 0 else input_count) + (0 if output_count < 0 else output_count)
    return (
        input_tokens if input_tokens is not None and input_tokens >= 0 else None,
        output_tokens if output_tokens is not None and output_tokens >= 0 else None,
        total,
    )


def _at_least_zero(amount: float | None) -> float | None:
    return amount if amount is not None and amount >= 0 else None


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
        # Checked even when disabled or not serving: a configuration that is wrong in development should
        # not wait for the deployment that enables it to fail.
        self.enabled = _check_bool("enabled", enabled)
        self.namespace = validate_namespace(namespace)
        if self.enabled:
            preload_prices()  # every recorded call is priced: have the data ready before the first one
        _check_registry(registry)
        _check_bool("start_server", start_server)
        _check_address(host, port)
        self._labels = LabelLimiter(max_label_values)
        self._lock = threading.Lock()
        # Held around every write into the per-process values of the (model, provider) series (CallSeries).
        # Not self._lock, which is held while a scrape endpoint starts.
        self._write_lock = threading.Lock()
        self._server: MetricsServer | None = None
        self._attached = False
        self._budget_listener_added = False
        self._registry: CollectorRegistry | None = None
        self._instruments: Instruments | None = None
        # Writers by raw pair (at most _MAX_CACHED_LABEL_KEYS) and by label values (bounded by the limiter).
        self._call_series: dict[tuple[str | None, str | None], CallSeries] = {}
        self._call_series_by_label: dict[tuple[str, str], CallSeries] = {}
        self._budget_series: dict[tuple[str | None, str], BudgetSeries] = {}
        if not enabled:
            return
        _import_prometheus_client()
        from prometheus_client import CollectorRegistry

        self._registry = CollectorRegistry() if registry is None else registry
        instruments = self._instruments = create_instruments(namespace, self._registry)
        self._cost: Children[Any] = Children(instruments.cost)
        self._tokens: Children[Any] = Children(instruments.tokens)
        self._latency: Children[Any] = Children(instruments.latency)
        self._tokens_by_type: Children[Any] = Children(instruments.tokens_by_type)
        self._requests: Children[Any] = Children(instruments.requests)
        self._errors: Children[Any] = Children(instruments.errors)
        self._time_to_first_chunk: Children[Any] = Children(instruments.time_to_first_chunk)
        self._unknown_cost_calls: Children[Any] = Children(instruments.unknown_cost_calls)
        self._budget_remaining: Children[Any] = Children(instruments.budget_remaining)
        self._budget_rejections: Children[Any] = Children(instruments.budget_rejections)
        self._budget_spent: Children[Any] = Children(instruments.budget_spent)
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
        _check_address(host, port)
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
        raw = (model, provider)
        series = self._call_series.get(raw) or self._new_call_series(raw)
        latency = None if latency_ms_value is None else latency_ms_value / 1000
        series.record(True, latency, None, None, None, tokens, cost)

    def record_span(self, span: SpanLike) -> None:
        """Record the LLM call a finished ``llm.generate`` span describes; other spans are ignored."""
        try:
            name = span.name
        except AttributeError:
            # Only what is not a span at all pays for this check; a real span costs one attribute read.
            raise TypeError(
                f"span must be a Span (with name, attributes, duration_ms and status), got {_shown(span)}"
            ) from None
        if self._instruments is None or name != LLM_SPAN_NAME:
            return
        attributes = span.attributes or {}
        model = attributes.get(semconv.GEN_AI_RESPONSE_MODEL) or attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        provider = attributes.get(semconv.GEN_AI_PROVIDER_NAME)
        raw = (model if isinstance(model, str) else None, provider if isinstance(provider, str) else None)
        series = self._call_series.get(raw) or self._new_call_series(raw)
        ok = span.status != "error"
        latency = None
        if ok:
            latency_ms = _number(span.duration_ms)
            if latency_ms is not None and latency_ms >= 0:
                latency = latency_ms / 1000
        else:
            error_type = attributes.get(semconv.ERROR_TYPE)
            self._record_error(series.key, error_type if isinstance(error_type, str) else None)
        input_tokens, output_tokens, tokens = _token_amounts(
            _number(attributes.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)),
            _number(attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)),
        )
        cost = _number(attributes.get(semconv.GEN_AI_USAGE_COST))
        series.record(ok, latency, None, input_tokens, output_tokens, tokens, _at_least_zero(cost))

    # -- ambient recording (the core's sink protocol) ------------------------------------------------------
    def attach(self) -> None:
        """Record every LLM call in the process, and budget events; idempotent.

        ``synapsekit.instrument(metrics=prom)`` calls it.
        """
        if self._instruments is None:
            return
        from synapsekit._core import sinks as _sinks

        with self._lock:
            if self._attached:
                return
            self._attached = True
        _sinks.add_sink(self)
        self._budget_listener_added = _subscribe_to_budgets(self.on_budget_event)

    def detach(self) -> None:
        """Stop recording ambient calls and budget events; idempotent."""
        from synapsekit._core import sinks as _sinks

        with self._lock:
            if not self._attached:
                return
            self._attached = False
        _sinks.remove_sink(self)
        if self._budget_listener_added:
            _unsubscribe_from_budgets(self.on_budget_event)
            self._budget_listener_added = False

    observes_call_start = False  # the core skips on_call_start (see synapsekit._core.sinks)

    def on_call_start(self, call: LLMCall) -> None:
        """Nothing to record until the call ends."""

    def on_call_end(self, call: LLMCall) -> None:
        if self._instruments is None:
            return
        raw = (call.model, call.provider)
        series = self._call_series.get(raw) or self._new_call_series(raw)
        if call.rejected:
            # Nothing was sent: no tokens, cost or latency. The budget that refused it reports the rejection
            # itself (on_budget_event), with its name.
            self._requests.get(*series.key, "rejected").inc()
            return
        ok = call.error_type is None
        if ok:
            latency = call.latency_s
        else:
            self._record_error(series.key, call.error_type)
            latency = None
        # _token_amounts, inline (it runs for every LLM call): a count < 0 (or NaN) is not written and adds
        # nothing to the total.
        input_tokens = call.input_tokens
        output_tokens = call.output_tokens
        tokens = None
        if input_tokens is not None or output_tokens is not None:
            input_count = input_tokens or 0
            output_count = output_tokens or 0
            tokens = (0 if input_count < 0 else input_count) + (0 if output_count < 0 else output_count)
            if input_tokens is not None and not input_tokens >= 0:
                input_tokens = None
            if output_tokens is not None and not output_tokens >= 0:
                output_tokens = None
        cost = call.cost  # priced on first read: read once
        amount = refused = None
        if cost is not None:
            amount = float(cost)
            if not amount >= 0:
                refused, amount = amount, None
        series.record(ok, latency, call.time_to_first_chunk_s, input_tokens, output_tokens, tokens, amount)
        if call.cached_input_tokens or call.cache_creation_input_tokens or call.reasoning_tokens:
            self._record_token_details(series.key, call)
        if refused is not None:
            # Negative or NaN: the public inc refuses the first and adds the second, as it always has. It
            # writes the child record() writes under the lock, so it holds that lock too.
            with self._write_lock:
                self._cost.get(*series.key).inc(refused)
        elif cost is None and call.total_tokens:
            # Counted, never silently $0: the dashboard shows how much spend is missing from the total.
            self._unknown_cost_calls.get(*series.key).inc()

    def on_budget_event(self, event: BudgetEventLike) -> None:
        """Record a budget's rejections and its remaining USD; :meth:`attach` subscribes this to budgets."""
        if self._instruments is None:
            return
        raw = (event.budget_name, event.window)
        series = self._budget_series.get(raw) or self._new_budget_series(raw)
        kind = event.kind
        spent = None
        if kind == "rejected":
            self._budget_rejections.get(series.budget).inc()
        elif kind == "settled" and event.amount_usd:
            spent = float(event.amount_usd)
            if not spent >= 0:  # negative (refused by the public inc, as always) or NaN (added by it)
                with self._write_lock:  # the child record() writes under the lock
                    self._budget_spent.get(series.budget).inc(spent)
                spent = None
        remaining = event.remaining_usd
        series.record(spent, None if remaining is None else float(remaining))

    # -- helpers ---------------------------------------------------------------------------------------------
    def _new_call_series(self, raw: tuple[str | None, str | None]) -> CallSeries:
        """The writers for a raw (model, provider) pair not seen before (or past the cache's bound)."""
        # Normalising a model name costs more than the rest of a call's recording, hence the cache by raw pair.
        # The labels of a raw pair never change (the label limiter only ever admits more values, and rejects
        # for good), so neither do its writers.
        model, provider = raw
        limit = self._labels.limit
        key = limit("model", model_label(model)), limit("provider", plain_label(provider))
        series = self._call_series_by_label.get(key)
        if series is None:
            # setdefault: threads racing to create a label pair's writers all end up with the same ones.
            series = self._call_series_by_label.setdefault(key, CallSeries(key, self))
        if len(self._call_series) < _MAX_CACHED_LABEL_KEYS:
            self._call_series[raw] = series
        return series

    def _new_budget_series(self, raw: tuple[str | None, str]) -> BudgetSeries:
        name, window = raw
        budget = self._labels.limit("budget", (name or "").strip() or UNNAMED_BUDGET)
        series = BudgetSeries(budget, window, self)
        if len(self._budget_series) < _MAX_CACHED_LABEL_KEYS:
            self._budget_series[raw] = series
        return series

    def _budget_remaining_child(self, budget: str, window: str) -> Any:
        window_label = self._labels.limit("window", plain_label(window))
        return self._budget_remaining.get(budget, window_label)

    def _record_error(self, key: tuple[str, str], error_type: str | None) -> None:
        self._requests.get(*key, "error").inc()
        error_label = self._labels.limit("error_type", (error_type or "").strip() or "Error")
        self._errors.get(*key, error_label).inc()

    def _record_token_details(self, key: tuple[str, str], call: LLMCall) -> None:
        by_type = self._tokens_by_type
        if call.cached_input_tokens:
            by_type.get(*key, "cached_input").inc(call.cached_input_tokens)
        if call.cache_creation_input_tokens:
            by_type.get(*key, "cache_creation").inc(call.cache_creation_input_tokens)
        if call.reasoning_tokens:
            by_type.get(*key, "reasoning").inc(call.reasoning_tokens)

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

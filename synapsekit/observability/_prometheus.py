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
from bisect import bisect_left
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from synapsekit import semconv
from synapsekit.observability._prometheus_instruments import (
    Instruments,
    LockedInc,
    LockedObserve,
    Write,
    counter_mutex_value,
    counter_writer,
    create_instruments,
    gauge_writer,
    histogram_mutex_values,
    histogram_writer,
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
# Raw (model, provider) and (budget name, window) pairs whose label values and writers are remembered; past
# this, a new pair's labels are computed per call.
_MAX_CACHED_LABEL_KEYS: Final = 1024
# Settlements carry the remaining USD; a reservation's figure is superseded when its call settles.
_BUDGET_EVENT_KINDS: Final = ("settled", "rejected", "exceeded")
_INF: Final = math.inf

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


class _FirstWrite:
    """Stands in a writer bundle's slot until the first write, which creates the series and fills the slot.

    Not created with the bundle because a labelled child is exposed (at zero) from its creation on: the bundle
    would show series its key never recorded, such as the latency of a model whose every call failed.
    """

    __slots__ = ("_create", "_owner", "_slot")

    def __init__(self, owner: object, slot: str, create: Callable[[], Write]) -> None:
        self._owner = owner
        self._slot = slot
        self._create = create

    def __call__(self, amount: float) -> None:
        # Racing threads get the same child from prometheus-client, so writers into the same values: whichever
        # ends up in the slot, no write is lost.
        write = self._create()
        setattr(self._owner, self._slot, write)
        write(amount)


class _CallSeries:
    """The series a call of one (model, provider) label pair records into, found with one dict lookup per call.

    :meth:`record` writes one call's numbers into the children's per-process values under the one lock of
    their :class:`PrometheusMetrics` (see "writing into a labelled child" in ``_prometheus_instruments`` for
    why that is sound). Every write to those children must hold that lock; the ones that do not go through
    :meth:`record`: the per-series writers here (:class:`LockedInc`/:class:`LockedObserve`) and the refused
    cost in ``on_call_end`` (same cost child). Errors, rejections, the rarer token types and calls of unknown
    cost write other children (other label values or metrics), through their public methods.

    Callers check that counter amounts are >= 0 (prometheus-client's public inc would).
    """

    __slots__ = (
        "cost",
        "cost_value",
        "first_chunk_bounds",
        "first_chunk_buckets",
        "first_chunk_sum",
        "key",
        "latency",
        "latency_bounds",
        "latency_buckets",
        "latency_sum",
        "lock",
        "requests_ok",
        "requests_ok_value",
        "time_to_first_chunk",
        "tokens",
        "tokens_input",
        "tokens_input_value",
        "tokens_output",
        "tokens_output_value",
        "tokens_value",
    )

    def __init__(self, key: tuple[str, str], metrics: PrometheusMetrics) -> None:
        self.key = key
        self.lock = metrics._write_lock
        # The per-process values record() writes: None until the series' first write, and for good when its
        # child is not a MutexValue (multiprocess mode, a prometheus-client with another layout); a call that
        # writes a series whose value is None goes through the per-series writers. A histogram's sum is set
        # last: once it is set, its buckets and bounds are.
        self.requests_ok_value: Any = None
        self.latency_sum: Any = None
        self.latency_buckets: Any = None
        self.latency_bounds: Any = None
        self.first_chunk_sum: Any = None
        self.first_chunk_buckets: Any = None
        self.first_chunk_bounds: Any = None
        self.tokens_input_value: Any = None
        self.tokens_output_value: Any = None
        self.tokens_value: Any = None
        self.cost_value: Any = None

        def counter(slot: str, children: _Children[Any], *labels: str) -> Write:
            return _FirstWrite(self, slot, partial(self._counter, f"{slot}_value", children, *labels))

        def histogram(slot: str, values: str, children: _Children[Any]) -> Write:
            return _FirstWrite(self, slot, partial(self._histogram, values, children))

        # The per-series writers: _FirstWrite until the series' first write, then LockedInc/LockedObserve for a
        # per-process child and the writers of _prometheus_instruments (public methods at worst) otherwise.
        self.requests_ok = counter("requests_ok", metrics._requests, "ok")
        self.latency = histogram("latency", "latency", metrics._latency)
        self.time_to_first_chunk = histogram(
            "time_to_first_chunk", "first_chunk", metrics._time_to_first_chunk
        )
        self.tokens_input = counter("tokens_input", metrics._tokens_by_type, "input")
        self.tokens_output = counter("tokens_output", metrics._tokens_by_type, "output")
        self.tokens = counter("tokens", metrics._tokens)
        self.cost = counter("cost", metrics._cost)

    def record(
        self,
        ok: bool,
        latency: float | None,
        first_chunk: float | None,
        input_tokens: float | None,
        output_tokens: float | None,
        tokens: float | None,
        cost: float | None,
    ) -> None:
        """Record one call: one ok request if ``ok``, and each amount that is not None.

        Under one lock, with one statement per series and no call: this runs for every LLM call, and a
        helper call per series would cost as much as the writes.
        """
        if (
            # A series this call writes for the first time (its writer creates it: see _FirstWrite), or one
            # whose child is not written under the lock.
            (ok and self.requests_ok_value is None)
            or (latency is not None and self.latency_sum is None)
            or (first_chunk is not None and self.first_chunk_sum is None)
            or (input_tokens is not None and self.tokens_input_value is None)
            or (output_tokens is not None and self.tokens_output_value is None)
            or (tokens is not None and self.tokens_value is None)
            or (cost is not None and self.cost_value is None)
        ):
            self.record_each(ok, latency, first_chunk, input_tokens, output_tokens, tokens, cost)
            return
        # ``with`` rather than acquire() and try/finally, which costs ~1,000 instructions less but lets a
        # KeyboardInterrupt raised right after acquire() returns (signal handlers run there) leave the lock
        # held for good: every later call in the process would hang.
        with self.lock:
            if ok:
                self.requests_ok_value._value += 1.0
            if latency is not None:
                self.latency_sum._value += latency
                # prometheus-client counts an observation in the first bucket whose upper bound is >= it:
                # bisect_left's answer in the sorted bounds, the last of which is +Inf. Only NaN fails the
                # test; like prometheus-client it then counts in no bucket.
                if latency <= _INF:
                    self.latency_buckets[bisect_left(self.latency_bounds, latency)]._value += 1.0
            if first_chunk is not None:
                self.first_chunk_sum._value += first_chunk
                if first_chunk <= _INF:
                    self.first_chunk_buckets[bisect_left(self.first_chunk_bounds, first_chunk)]._value += 1.0
            if input_tokens is not None:
                self.tokens_input_value._value += input_tokens
            if output_tokens is not None:
                self.tokens_output_value._value += output_tokens
            if tokens is not None:
                self.tokens_value._value += tokens
            if cost is not None:
                self.cost_value._value += cost

    def record_each(
        self,
        ok: bool,
        latency: float | None,
        first_chunk: float | None,
        input_tokens: float | None,
        output_tokens: float | None,
        tokens: float | None,
        cost: float | None,
    ) -> None:
        """:meth:`record` through the per-series writers, which take the lock themselves where it applies."""
        if ok:
            self.requests_ok(1)
        if latency is not None:
            self.latency(latency)
        if first_chunk is not None:
            self.time_to_first_chunk(first_chunk)
        if input_tokens is not None:
            self.tokens_input(input_tokens)
        if output_tokens is not None:
            self.tokens_output(output_tokens)
        if tokens is not None:
            self.tokens(tokens)
        if cost is not None:
            self.cost(cost)

    # The writers' creation, on a series' first write.
    def _counter(self, value_slot: str, children: _Children[Any], *labels: str) -> Write:
        child = children.get(*self.key, *labels)
        value = counter_mutex_value(child)
        if value is None:
            return counter_writer(child)
        setattr(self, value_slot, value)
        return LockedInc(self.lock, value)

    def _histogram(self, prefix: str, children: _Children[Any]) -> Write:
        child = children.get(*self.key)
        values = histogram_mutex_values(child)
        if values is None:
            return histogram_writer(child)
        setattr(self, f"{prefix}_bounds", values[2])
        setattr(self, f"{prefix}_buckets", values[1])
        setattr(self, f"{prefix}_sum", values[0])  # last: record() takes a set sum for all three
        return LockedObserve(self.lock, values)


class _BudgetSeries:
    """A (budget name, window) pair's budget label and the writer of its remaining-USD gauge.

    The window's label is only needed (and admitted by the label limiter) once a remaining figure is written.
    """

    __slots__ = ("budget", "remaining")

    def __init__(self, budget: str, create_remaining: Callable[[], Write]) -> None:
        self.budget = budget
        self.remaining: Write = _FirstWrite(self, "remaining", create_remaining)


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
        self.enabled = enabled
        self.namespace = validate_namespace(namespace)
        self._labels = LabelLimiter(max_label_values)
        self._lock = threading.Lock()
        # Held around every write into the per-process values of the (model, provider) series (_CallSeries).
        # Not self._lock, which is held while a scrape endpoint starts.
        self._write_lock = threading.Lock()
        self._server: MetricsServer | None = None
        self._attached = False
        self._budget_listener_added = False
        self._registry: CollectorRegistry | None = None
        self._instruments: Instruments | None = None
        # Writers by raw pair (at most _MAX_CACHED_LABEL_KEYS) and by label values (bounded by the limiter).
        self._call_series: dict[tuple[str | None, str | None], _CallSeries] = {}
        self._call_series_by_label: dict[tuple[str, str], _CallSeries] = {}
        self._budget_series: dict[tuple[str | None, str], _BudgetSeries] = {}
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
        raw = (model, provider)
        series = self._call_series.get(raw) or self._new_call_series(raw)
        latency = None if latency_ms_value is None else latency_ms_value / 1000
        series.record(True, latency, None, None, None, tokens, cost)

    def record_span(self, span: SpanLike) -> None:
        """Record the LLM call a finished ``llm.generate`` span describes; other spans are ignored."""
        if self._instruments is None or span.name != LLM_SPAN_NAME:
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

    observes_call_start = False  # the core skips on_call_start (see synapsekit._sinks)

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
        if event.kind == "rejected":
            self._budget_rejections.get(series.budget).inc()
        remaining = event.remaining_usd
        if remaining is not None:
            series.remaining(float(remaining))

    # -- helpers ---------------------------------------------------------------------------------------------
    def _new_call_series(self, raw: tuple[str | None, str | None]) -> _CallSeries:
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
            series = self._call_series_by_label.setdefault(key, _CallSeries(key, self))
        if len(self._call_series) < _MAX_CACHED_LABEL_KEYS:
            self._call_series[raw] = series
        return series

    def _new_budget_series(self, raw: tuple[str | None, str]) -> _BudgetSeries:
        name, window = raw
        budget = self._labels.limit("budget", (name or "").strip() or UNNAMED_BUDGET)
        series = _BudgetSeries(budget, partial(self._budget_remaining_writer, budget, window))
        if len(self._budget_series) < _MAX_CACHED_LABEL_KEYS:
            self._budget_series[raw] = series
        return series

    def _budget_remaining_writer(self, budget: str, window: str) -> Write:
        window_label = self._labels.limit("window", plain_label(window))
        return gauge_writer(self._budget_remaining.get(budget, window_label))

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

"""The Prometheus metric objects of one :class:`PrometheusMetrics`, created together in one registry, and the
writers that record into their labelled children."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeGuard, cast

from synapsekit import semconv

if TYPE_CHECKING:
    from threading import Lock

    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "LATENCY_BUCKETS",
    "HistogramValues",
    "Instruments",
    "LockedInc",
    "LockedObserve",
    "LockedSet",
    "Write",
    "counter_mutex_value",
    "counter_writer",
    "create_instruments",
    "gauge_mutex_value",
    "gauge_writer",
    "histogram_mutex_values",
    "histogram_writer",
    "validate_namespace",
]

# The spec's "standard buckets up to 10 s": prometheus-client's defaults (+Inf is added by the library).
LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

# In multiprocess mode each worker writes its own value of a gauge. The budget gauges report a ledger's
# state, so the last value written by a live worker is the current one (with a shared Redis ledger every
# worker sees the same ledger; a dead worker's stale value must not linger).
BUDGET_GAUGE_MULTIPROCESS_MODE: Final = "livemostrecent"

_NAMESPACE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

MODEL_PROVIDER: Final = ("model", "provider")


def validate_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise ValueError(
            "namespace must be a valid Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), "
            f"got {namespace!r}"
        )
    return namespace


@dataclass(frozen=True)
class Instruments:
    cost: Counter
    tokens: Counter
    latency: Histogram
    tokens_by_type: Counter
    requests: Counter
    errors: Counter
    time_to_first_chunk: Histogram
    unknown_cost_calls: Counter
    budget_remaining: Gauge
    budget_rejections: Counter
    budget_spent: Counter


def create_instruments(namespace: str, registry: CollectorRegistry) -> Instruments:
    from prometheus_client import Counter, Gauge, Histogram

    def name(suffix: str) -> str:
        return f"{namespace}_{suffix}"

    return Instruments(
        cost=Counter(
            name(semconv.PROM_COST_USD_TOTAL),
            "Cumulative LLM cost in USD (calls whose price is unknown add nothing; see unknown_cost_calls)",
            MODEL_PROVIDER,
            registry=registry,
        ),
        tokens=Counter(
            name(semconv.PROM_TOKENS_TOTAL),
            "Cumulative LLM tokens (input + output)",
            MODEL_PROVIDER,
            registry=registry,
        ),
        latency=Histogram(
            name(semconv.PROM_LATENCY_SECONDS),
            "Latency of successful LLM calls in seconds",
            MODEL_PROVIDER,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        ),
        tokens_by_type=Counter(
            name(semconv.PROM_TOKENS_BY_TYPE_TOTAL),
            "Cumulative LLM tokens by type; input includes cached_input and cache_creation, "
            "output includes reasoning",
            (*MODEL_PROVIDER, "type"),
            registry=registry,
        ),
        requests=Counter(
            name(semconv.PROM_REQUESTS_TOTAL),
            "LLM calls by outcome: ok, error, or rejected by a budget before being sent",
            (*MODEL_PROVIDER, "outcome"),
            registry=registry,
        ),
        errors=Counter(
            name(semconv.PROM_ERRORS_TOTAL),
            "Failed LLM calls by exception class",
            (*MODEL_PROVIDER, "error_type"),
            registry=registry,
        ),
        time_to_first_chunk=Histogram(
            name(semconv.PROM_TIME_TO_FIRST_CHUNK_SECONDS),
            "Time from request to the first streamed chunk in seconds",
            MODEL_PROVIDER,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        ),
        unknown_cost_calls=Counter(
            name(semconv.PROM_UNKNOWN_COST_CALLS_TOTAL),
            "LLM calls that used tokens but whose price is unknown (their cost is not in cost_usd_total)",
            MODEL_PROVIDER,
            registry=registry,
        ),
        budget_remaining=Gauge(
            name(semconv.PROM_BUDGET_REMAINING_USD),
            "USD left in a budget's current window",
            ("budget", "window"),
            registry=registry,
            multiprocess_mode=BUDGET_GAUGE_MULTIPROCESS_MODE,
        ),
        budget_rejections=Counter(
            name(semconv.PROM_BUDGET_REJECTIONS_TOTAL),
            "LLM calls a budget rejected before they were sent",
            ("budget",),
            registry=registry,
        ),
        # Labelled by budget name only, never by id: a budget propagated per user request keeps one series
        # per name however many requests there are (bounded cardinality).
        budget_spent=Counter(
            name(semconv.PROM_BUDGET_SPENT_USD_TOTAL),
            "USD settled to a budget by this process's LLM calls (a propagated budget: by its name)",
            ("budget",),
            registry=registry,
        ),
    )


# -- writing into a labelled child -----------------------------------------------------------------------------
# Why prometheus-client's private attributes: a child's public inc/observe/set re-check on every call that the
# child is observable (a labelled child always is), which is four Python calls per write, and a histogram
# finds its bucket with a Python loop; every LLM call pays for that on every series it touches. The child keeps
# its numbers in value objects (``_value``; a histogram's ``_sum`` and one per bucket in ``_buckets``, with the
# sorted ``_upper_bounds``) whose own inc/set take the value's lock (MutexValue, or MmapedValue in multiprocess
# mode), so calling them directly records exactly what the public method would. Being private, their shape is
# checked once per child, and a child that does not look as expected (a future prometheus-client) is written
# through its public method instead.
#
# One lock per call instead of one per value. Written directly, each value still costs a Python call and a
# lock of its own, and an LLM call writes about seven. So when a child's value objects are prometheus-client's
# per-process MutexValue (exactly that class, holding a float ``_value``; checked once per child),
# PrometheusMetrics writes them under ONE lock of its own, held once for all the series of a call, with plain
# ``value._value += amount`` (what ``MutexValue.inc`` does under the value's lock). Why that is sound:
# - Every write to such a child holds that one lock: the per-call record, the first-write and per-series
#   writers (LockedInc, LockedObserve), and any other path of PrometheusMetrics that writes the same child
#   (it takes the lock around those). The metrics are created by, and private to, one PrometheusMetrics, so
#   nothing else writes them. Concurrent writers therefore never lose an increment: no read-add-store of a
#   value interleaves with another write to it.
# - A scrape reads each value under that value's own lock (``MutexValue.get``), which writers no longer take;
#   it reads the float attribute once and sees either the old or the new float, since replacing an attribute
#   by another (immutable) float is a single store. That is what it saw before: a scrape and a writer
#   interleaved per value, and a histogram's buckets and sum were never read as one snapshot.
# In multiprocess mode the values are MmapedValue (writes go to the worker's mmap file, under that module's
# lock): those children keep the per-value writers above, as does anything not shaped as expected, and a
# "mostrecent" gauge keeps the public ``set``.

Write = Callable[[float], None]
"""Records one amount into a series: adds it to a counter, observes it in a histogram or sets a gauge to it."""

HistogramValues = tuple[Any, tuple[Any, ...], tuple[float, ...]]
"""A histogram child's sum value, its bucket values and their upper bounds (ascending, ending with +Inf)."""

_INF: Final = math.inf


def counter_writer(child: Counter) -> Write:
    """``child.inc``, for amounts the caller has already checked are >= 0 (the public method checks it)."""
    inc = _method(getattr(child, "_value", None), "inc")
    return child.inc if inc is None else inc


def gauge_writer(child: Gauge) -> Write:
    """``child.set``, for amounts that are already floats (the public method converts them)."""
    set_value = _method(getattr(child, "_value", None), "set")
    if set_value is None or _stamps_its_writes(child):
        return child.set
    return set_value


def histogram_writer(child: Histogram) -> Write:
    """``child.observe``: adds the amount to the sum and counts it in its one bucket, found by bisection."""
    values = _histogram_values(child)
    if values is None:
        return child.observe
    return _BucketedWrite(*values).observe


class _BucketedWrite:
    """A histogram child's observation, written straight into its value objects."""

    __slots__ = ("_bounds", "_bucket_incs", "_sum_inc")

    def __init__(self, sum_inc: Write, bucket_incs: tuple[Write, ...], bounds: tuple[float, ...]) -> None:
        self._sum_inc = sum_inc
        self._bucket_incs = bucket_incs
        self._bounds = bounds

    def observe(self, amount: float) -> None:
        self._sum_inc(amount)
        # prometheus-client counts an observation in the first bucket whose upper bound is >= the amount:
        # bisect_left's answer in the sorted bounds. The last bound is +Inf, so only NaN fails this test; like
        # prometheus-client it then counts in no bucket (where bisect would pick the first).
        if amount <= math.inf:
            self._bucket_incs[bisect_left(self._bounds, amount)](1)


def _method(owner: object, name: str) -> Write | None:
    method = getattr(owner, name, None)
    return cast("Write", method) if callable(method) else None


def _stamps_its_writes(child: Gauge) -> bool:
    """Whether ``child.set`` stores the time with the value, which only the public method passes along.

    A "mostrecent" gauge does, and in multiprocess mode the timestamp decides which worker's value a scrape
    reports; the per-process MutexValue ignores it. When in doubt, yes.
    """
    if getattr(child, "_is_most_recent", True) is False:
        return False
    return getattr(getattr(child, "_value", None), "_multiprocess", True) is not False


def _histogram_values(child: Histogram) -> tuple[Write, tuple[Write, ...], tuple[float, ...]] | None:
    """The sum's inc, each bucket's inc and the buckets' upper bounds, or None if not shaped as expected."""
    sum_inc = _method(getattr(child, "_sum", None), "inc")
    buckets = getattr(child, "_buckets", None)
    bounds = getattr(child, "_upper_bounds", None)
    if sum_inc is None or not isinstance(buckets, list) or not _is_bucket_bounds(bounds):
        return None
    bucket_incs = [_method(bucket, "inc") for bucket in buckets]
    if len(bucket_incs) != len(bounds) or None in bucket_incs:
        return None
    return sum_inc, tuple(cast("list[Write]", bucket_incs)), tuple(bounds)


def _is_bucket_bounds(bounds: object) -> TypeGuard[list[float]]:
    """Ascending floats ending with +Inf, as :class:`_BucketedWrite` needs them."""
    if not isinstance(bounds, list) or not bounds or bounds[-1] != math.inf:
        return False
    return all(isinstance(bound, float) for bound in bounds) and bounds == sorted(bounds)


# -- under one lock (per-process values) -----------------------------------------------------------------------
def counter_mutex_value(child: Counter) -> Any | None:
    """The child's per-process MutexValue, to be written under the caller's lock only; None otherwise."""
    value = getattr(child, "_value", None)
    return value if _is_mutex_value(value) else None


def gauge_mutex_value(child: Gauge) -> Any | None:
    """The gauge child's per-process MutexValue, to be set under the caller's lock only; None otherwise, and
    when its public ``set`` stamps its writes (see :func:`gauge_writer`)."""
    value = getattr(child, "_value", None)
    return value if _is_mutex_value(value) and not _stamps_its_writes(child) else None


def histogram_mutex_values(child: Histogram) -> HistogramValues | None:
    """The child's sum and bucket MutexValues and its bounds, to be written under the caller's lock only.

    None when any of them is not a per-process MutexValue or the layout is not the expected one.
    """
    total = getattr(child, "_sum", None)
    buckets = getattr(child, "_buckets", None)
    bounds = getattr(child, "_upper_bounds", None)
    if not _is_mutex_value(total) or not isinstance(buckets, list) or not _is_bucket_bounds(bounds):
        return None
    if len(buckets) != len(bounds) or not all(_is_mutex_value(bucket) for bucket in buckets):
        return None
    return total, tuple(buckets), tuple(bounds)


class LockedInc:
    """A counter's MutexValue written under the caller's lock, one amount at a time.

    For the writes that do not go through the per-call record (a series' first write, and calls that also
    write a series whose child is not a MutexValue): they hold the lock every write to the value holds.
    """

    __slots__ = ("_lock", "_value")

    def __init__(self, lock: Lock, value: Any) -> None:
        self._lock = lock
        self._value = value

    def __call__(self, amount: float) -> None:
        with self._lock:
            self._value._value += amount


class LockedSet:
    """A gauge's MutexValue set under the caller's lock, one value at a time (see LockedInc)."""

    __slots__ = ("_lock", "_value")

    def __init__(self, lock: Lock, value: Any) -> None:
        self._lock = lock
        self._value = value

    def __call__(self, amount: float) -> None:
        with self._lock:
            self._value._value = amount


class LockedObserve:
    """A histogram's MutexValues written under the caller's lock, one observation at a time (see LockedInc)."""

    __slots__ = ("_bounds", "_buckets", "_lock", "_sum")

    def __init__(self, lock: Lock, values: HistogramValues) -> None:
        self._lock = lock
        self._sum, self._buckets, self._bounds = values

    def __call__(self, amount: float) -> None:
        with self._lock:
            self._sum._value += amount
            if amount <= _INF:  # NaN counts in no bucket (see _BucketedWrite)
                self._buckets[bisect_left(self._bounds, amount)]._value += 1.0


def _is_mutex_value(value: object) -> bool:
    """Exactly prometheus-client's per-process value class (not a subclass), holding a float."""
    from prometheus_client.values import MutexValue

    return type(value) is MutexValue and type(getattr(value, "_value", None)) is float

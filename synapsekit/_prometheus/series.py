"""The per-label-pair writers that :class:`~synapsekit.observability.PrometheusMetrics` records through.

Resolving labelled children and their per-process values costs far more than a write, so each (model,
provider) and (budget, window) pair keeps its writers here, found with one dict lookup per call.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from synapsekit._prometheus.instruments import (
    LockedInc,
    LockedObserve,
    LockedSet,
    Write,
    counter_mutex_value,
    counter_writer,
    gauge_mutex_value,
    gauge_writer,
    histogram_mutex_values,
    histogram_writer,
)

if TYPE_CHECKING:
    from synapsekit._prometheus.metrics import PrometheusMetrics

_INF: Final = math.inf

_Child = TypeVar("_Child")


class Children(Generic[_Child]):
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


class FirstWrite:
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


class CallSeries:
    """The series a call of one (model, provider) label pair records into, found with one dict lookup per call.

    :meth:`record` writes one call's numbers into the children's per-process values under the one lock of
    their :class:`PrometheusMetrics` (see "writing into a labelled child" in :mod:`synapsekit._prometheus.instruments` for
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

        def counter(slot: str, children: Children[Any], *labels: str) -> Write:
            return FirstWrite(self, slot, partial(self._counter, f"{slot}_value", children, *labels))

        def histogram(slot: str, values: str, children: Children[Any]) -> Write:
            return FirstWrite(self, slot, partial(self._histogram, values, children))

        # The per-series writers: FirstWrite until the series' first write, then LockedInc/LockedObserve for a
        # per-process child and the writers of ``instruments`` (public methods at worst) otherwise.
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
            # A series this call writes for the first time (its writer creates it: see FirstWrite), or one
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
    def _counter(self, value_slot: str, children: Children[Any], *labels: str) -> Write:
        child = children.get(*self.key, *labels)
        value = counter_mutex_value(child)
        if value is None:
            return counter_writer(child)
        setattr(self, value_slot, value)
        return LockedInc(self.lock, value)

    def _histogram(self, prefix: str, children: Children[Any]) -> Write:
        child = children.get(*self.key)
        values = histogram_mutex_values(child)
        if values is None:
            return histogram_writer(child)
        setattr(self, f"{prefix}_bounds", values[2])
        setattr(self, f"{prefix}_buckets", values[1])
        setattr(self, f"{prefix}_sum", values[0])  # last: record() takes a set sum for all three
        return LockedObserve(self.lock, values)


class BudgetSeries:
    """A (budget name, window) pair's budget label and the writers of its spent-USD counter and remaining-USD
    gauge.

    As :class:`CallSeries` does for a call's series, :meth:`record` writes one budget event's numbers into their
    per-process values under the one lock of their :class:`PrometheusMetrics`, once both exist (each is
    created by its first write: see FirstWrite). Every write to those children holds that lock: the per-series
    writers here and the refused amount in ``on_budget_event``. The window's label is only needed (and admitted
    by the label limiter) once a remaining figure is written.
    """

    __slots__ = (
        "_metrics",
        "budget",
        "lock",
        "remaining",
        "remaining_value",
        "spent",
        "spent_value",
        "window",
    )

    def __init__(self, budget: str, window: str, metrics: PrometheusMetrics) -> None:
        self.budget = budget
        self.window = window
        self._metrics = metrics
        self.lock = metrics._write_lock
        # The per-process values record() writes: None until the series' first write, and for good when its
        # child is not a MutexValue (or the gauge's public set must stamp its writes).
        self.spent_value: Any = None
        self.remaining_value: Any = None
        self.spent: Write = FirstWrite(self, "spent", self._spent)
        self.remaining: Write = FirstWrite(self, "remaining", self._remaining)

    def record(self, spent: float | None, remaining: float | None) -> None:
        """Add ``spent`` (>= 0: the caller checks) to the spent counter and set the remaining gauge
        to ``remaining``, each when not None."""
        if (spent is not None and self.spent_value is None) or (
            remaining is not None and self.remaining_value is None
        ):
            if spent is not None:
                self.spent(spent)
            if remaining is not None:
                self.remaining(remaining)
            return
        with self.lock:  # see CallSeries.record for why ``with``
            if spent is not None:
                self.spent_value._value += spent
            if remaining is not None:
                self.remaining_value._value = remaining

    # The writers' creation, on a series' first write.
    def _spent(self) -> Write:
        child = self._metrics._budget_spent.get(self.budget)
        value = counter_mutex_value(child)
        if value is None:
            return counter_writer(child)
        self.spent_value = value
        return LockedInc(self.lock, value)

    def _remaining(self) -> Write:
        child = self._metrics._budget_remaining_child(self.budget, self.window)
        value = gauge_mutex_value(child)
        if value is None:
            return gauge_writer(child)
        self.remaining_value = value
        return LockedSet(self.lock, value)

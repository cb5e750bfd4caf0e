"""The Prometheus metric objects of one :class:`PrometheusMetrics`, created together in one registry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from synapsekit import semconv

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["LATENCY_BUCKETS", "Instruments", "create_instruments", "validate_namespace"]

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
    )

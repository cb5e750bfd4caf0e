"""Helpers for the Prometheus tests: known LLM calls with exact expected totals, and a worker process.

Run as a script (``python _prom_workers.py <index>``) it is one worker of a multi-process server: with
``PROMETHEUS_MULTIPROC_DIR`` set in its environment it makes ``index + 1`` known calls through the ambient
instrumentation, reports one budget event, prints its pid and exits.

Prices are set so that every cost is exact in binary floating point (sums compare with ``==``):
$0.50 per input token and $0.25 per output token. ``OfflineLLM`` counts one token per word.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from synapsekit._budget._events import BudgetEvent

OFFLINE_PROVIDER: Final = "synapsekit"
OFFLINE_MODEL: Final = "synapsekit-offline"
INPUT_PER_MTOK: Final = Decimal(500_000)
OUTPUT_PER_MTOK: Final = Decimal(250_000)

# One worker call: "one two three" (3 input tokens) with max_tokens=4 (4 output tokens).
WORKER_PROMPT: Final = "one two three"
WORKER_MAX_TOKENS: Final = 4
WORKER_CALL_COST: Final = 3 * 0.5 + 4 * 0.25  # 2.5
WORKER_BUDGET_LIMIT: Final = 100.0


def set_offline_prices() -> None:
    from synapsekit._pricing import set_price

    set_price(
        OFFLINE_MODEL,
        provider=OFFLINE_PROVIDER,
        input_per_mtok=INPUT_PER_MTOK,
        output_per_mtok=OUTPUT_PER_MTOK,
    )


def worker_budget_event(index: int, calls: int) -> BudgetEvent:
    """The budget event worker ``index`` reports after spending ``calls`` worker calls."""
    from synapsekit._budget._events import BudgetEvent

    spent = calls * WORKER_CALL_COST
    return BudgetEvent(
        kind="settled",
        budget_name=f"worker-{index}",
        window="day",
        bucket="2025-01-01",
        spent_usd=spent,
        reserved_usd=0.0,
        limit_usd=WORKER_BUDGET_LIMIT,
        remaining_usd=WORKER_BUDGET_LIMIT - spent,
        spent_tokens=calls * (3 + WORKER_MAX_TOKENS),
        limit_tokens=None,
        amount_usd=WORKER_CALL_COST,
        provider=OFFLINE_PROVIDER,
        model=OFFLINE_MODEL,
    )


async def _worker_calls(count: int) -> None:
    from synapsekit._offline import OfflineLLM

    llm = OfflineLLM()
    for _ in range(count):
        await llm.generate(WORKER_PROMPT, max_tokens=WORKER_MAX_TOKENS)


def run_worker(index: int) -> None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise SystemExit("PROMETHEUS_MULTIPROC_DIR must be set for a worker")
    from synapsekit._budget._events import emit
    from synapsekit.observability._prometheus import PrometheusMetrics

    set_offline_prices()
    metrics = PrometheusMetrics()
    metrics.attach()
    try:
        calls = index + 1
        asyncio.run(_worker_calls(calls))
        emit(worker_budget_event(index, calls), None)
    finally:
        metrics.detach()
    print(os.getpid(), flush=True)


if __name__ == "__main__":
    run_worker(int(sys.argv[1]))


# -- the dashboard -------------------------------------------------------------------------------------------
DASHBOARD_PATH: Final = (
    Path(__file__).resolve().parents[2]
    / "assets/helm/synapsekit-observability/dashboards/synapsekit-llm.json"
)

# What Grafana puts in place of the dashboard's variables, for evaluating its queries outside Grafana.
GRAFANA_SUBSTITUTIONS: Final = {
    "$__rate_interval": "1m",
    "$__range": "5m",
    "$provider": ".*",
    "$model": ".*",
}


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD_PATH.read_text())
    return dashboard


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard_panels(dashboard) for target in panel["targets"]]


def dashboard_variable_queries(dashboard: dict[str, Any]) -> list[str]:
    return [var["definition"] for var in dashboard["templating"]["list"] if var["type"] == "query"]


def substitute(expr: str) -> str:
    for variable, replacement in GRAFANA_SUBSTITUTIONS.items():
        expr = expr.replace(variable, replacement)
    return expr


def metric_names_in(expr: str) -> set[str]:
    return set(re.findall(r"\bsynapsekit_[a-zA-Z0-9_]+", expr))

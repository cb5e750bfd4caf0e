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
    from synapsekit._budget.events import BudgetEvent

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
    from synapsekit._pricing.prices import set_price

    set_price(
        OFFLINE_MODEL,
        provider=OFFLINE_PROVIDER,
        input_per_mtok=INPUT_PER_MTOK,
        output_per_mtok=OUTPUT_PER_MTOK,
    )


def worker_budget_event(index: int, calls: int) -> BudgetEvent:
    """The budget event worker ``index`` reports after spending ``calls`` worker calls."""
    from synapsekit._budget.events import BudgetEvent

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
    from synapsekit._llms.offline import OfflineLLM

    llm = OfflineLLM()
    for _ in range(count):
        await llm.generate(WORKER_PROMPT, max_tokens=WORKER_MAX_TOKENS)


def run_worker(index: int) -> None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise SystemExit("PROMETHEUS_MULTIPROC_DIR must be set for a worker")
    from synapsekit._budget.events import emit
    from synapsekit._prometheus.metrics import PrometheusMetrics

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


# -- a batch of known calls covering every metric ------------------------------------------------------------
BUDGET_NAME: Final = "team-a"
BUDGET_LIMIT: Final = 10.0
ERROR_MODEL: Final = "gpt-4o-mini"
UNPRICED_PROVIDER: Final = "acme"
UNPRICED_MODEL: Final = "acme-unpriced"

# Per batch, for OfflineLLM: "What is RAG?" (3 in, 12 out: $4.50), "Explain embeddings." (2 in, 12 out:
# $4.00) and a stream of "one two three four" with max_tokens=6 (4 in, 6 out: $3.50).
BATCH_OFFLINE_OK_CALLS: Final = 3
BATCH_OFFLINE_COST: Final = 4.5 + 4.0 + 3.5
BATCH_OFFLINE_INPUT_TOKENS: Final = 3 + 2 + 4
BATCH_OFFLINE_OUTPUT_TOKENS: Final = 12 + 12 + 6
BATCH_OFFLINE_STREAMS: Final = 1
# One unpriced call (8 in, 2 out), one failed call and one budget-rejected call.
BATCH_UNPRICED_TOKENS: Final = 10


def budget_event(kind: str, spent: float) -> BudgetEvent:
    from synapsekit._budget.events import BudgetEvent

    return BudgetEvent(
        kind=kind,
        budget_name=BUDGET_NAME,
        window="day",
        bucket="2025-01-01",
        spent_usd=spent,
        reserved_usd=0.0,
        limit_usd=BUDGET_LIMIT,
        remaining_usd=BUDGET_LIMIT - spent,
        spent_tokens=0,
        limit_tokens=None,
        amount_usd=None,
        provider=OFFLINE_PROVIDER,
        model=OFFLINE_MODEL,
    )


async def record_known_batch(spent_before: float) -> float:
    """Make one batch of known calls through the ambient instrumentation; returns the budget's spend after.

    Whatever is attached (``PrometheusMetrics.attach()``) records them. Offline prices must be set.
    """
    import warnings

    from synapsekit._budget.events import emit
    from synapsekit._core.call import LLMCall, start_call
    from synapsekit._core.exceptions import BudgetExceeded
    from synapsekit._core.scope import Scope
    from synapsekit._llms.offline import OfflineLLM
    from synapsekit._pricing.prices import UnknownModelPriceWarning

    class RejectingScope(Scope):
        gates_calls = True

        def admit(self, call: LLMCall) -> None:
            raise BudgetExceeded("over budget", spent=1.0, limit=1.0, budget_name=BUDGET_NAME)

    llm = OfflineLLM()
    await llm.generate("What is RAG?")
    await llm.generate("Explain embeddings.")
    async for _ in llm.stream("one two three four", max_tokens=6):
        pass
    spent = spent_before + BATCH_OFFLINE_COST
    emit(budget_event("settled", spent), None)

    unpriced = start_call(UNPRICED_PROVIDER, "chat", UNPRICED_MODEL)
    unpriced.record_usage(input_tokens=8, output_tokens=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        unpriced.finish()

    failing = start_call("openai", "chat", ERROR_MODEL)
    failing.fail(TimeoutError("read timed out"))

    try:
        with RejectingScope():
            start_call("openai", "chat", ERROR_MODEL, prompt="hello")
    except BudgetExceeded:
        emit(budget_event("rejected", spent), None)
    return spent

"""Zero-code configuration: everything ``synapsekit-instrument`` sets up, from environment variables.

| variable | effect |
|---|---|
| ``SYNAPSEKIT_INSTRUMENT`` | clients to instrument, comma-separated (default: every installed one; ``none`` for none) |
| ``SYNAPSEKIT_BUDGET_USD`` | a process-wide budget in USD, applied to every LLM call in every thread |
| ``SYNAPSEKIT_BUDGET_WINDOW`` | its window: ``session`` (default), ``hour``, ``day``, ``month`` |
| ``SYNAPSEKIT_BUDGET_MAX_TOKENS`` | a hard token cap for that window |
| ``SYNAPSEKIT_BUDGET_ON_EXCEEDED`` | ``raise`` (default) or ``warn`` |
| ``SYNAPSEKIT_BUDGET_LEDGER`` | where the budget's spend is kept (``memory``, ``sqlite:///path``, ``redis://…``) |
| ``SYNAPSEKIT_LEDGERS`` | ``name=url,...``: ledgers that budgets propagated from other services may be joined in (the calls of a request carrying one are admitted against it) |
| ``SYNAPSEKIT_BUDGET_SECRET`` | the shared secret that signs propagated budget identities; unsigned ones are then refused |
| ``SYNAPSEKIT_SPEND_LEDGER`` | a SQLite file recording every call, read by ``synapsekit report`` |
| ``SYNAPSEKIT_PROMETHEUS_PORT`` | serve Prometheus metrics on this port (``SYNAPSEKIT_PROMETHEUS_HOST``, default 0.0.0.0) |
| ``SYNAPSEKIT_SUMMARY`` | ``1``: print calls, tokens and cost to stderr at exit |
| ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` | export spans and GenAI metrics there |
| ``OTEL_SERVICE_NAME`` | the service name of exported traces |
| ``SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S`` | at most this long (default 3 s) for the last export at exit; read by OTelExporter |
| ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` | record prompts and completions on spans |
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from synapsekit._core import context as _context
from synapsekit._core.scope import Tally
from synapsekit._instrumenting import instrument as _instrument


@dataclass
class AutoInstrumentation:
    """What :func:`configure_from_env` set up (kept so tests and the summary can reach it)."""

    clients: list[str] = field(default_factory=list)
    budget: Any = None
    exporter: Any = None
    metrics: Any = None
    ledger: Any = None
    tally: Tally | None = None
    budget_join: Any = None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def configure_from_env(environ: Mapping[str, str] | None = None) -> AutoInstrumentation:
    env = os.environ if environ is None else environ
    setup = AutoInstrumentation()

    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint:
        from synapsekit._otel.exporter import OTelExporter

        setup.exporter = OTelExporter(
            endpoint=endpoint,
            # An empty OTEL_SERVICE_NAME (a bare `OTEL_SERVICE_NAME=` in an env file) means "not set".
            service_name=env.get("OTEL_SERVICE_NAME", "").strip() or "synapsekit",
            insecure=endpoint.startswith("http://"),
        ).install()

    budget_usd = env.get("SYNAPSEKIT_BUDGET_USD")
    max_tokens = env.get("SYNAPSEKIT_BUDGET_MAX_TOKENS")
    if budget_usd or max_tokens:
        from synapsekit._budget import budget

        setup.budget = budget(
            float(budget_usd) if budget_usd else None,
            window=env.get("SYNAPSEKIT_BUDGET_WINDOW", "session"),
            max_tokens=int(max_tokens) if max_tokens else None,
            on_exceeded=env.get("SYNAPSEKIT_BUDGET_ON_EXCEEDED", "raise"),
            name="process",
        )
        _context.add_global_scope(setup.budget)

    if env.get("SYNAPSEKIT_LEDGERS", "").strip():
        # Without code there is no middleware to join an incoming budget: join it at each LLM call from the
        # baggage an OpenTelemetry server instrumentation extracted, and write it on outgoing requests.
        from opentelemetry import propagate

        from synapsekit._otel.budget_baggage import AmbientBudgetJoin
        from synapsekit._otel.propagators import create_propagator

        propagate.set_global_textmap(create_propagator("w3c"))
        setup.budget_join = AmbientBudgetJoin()
        _context.add_global_scope(setup.budget_join)

    sinks: list[Any] = []
    ledger_path = env.get("SYNAPSEKIT_SPEND_LEDGER")
    if ledger_path:
        from synapsekit._spend.ledger import SpendLedger

        setup.ledger = SpendLedger(ledger_path)
        sinks.append(setup.ledger)

    prometheus_port = env.get("SYNAPSEKIT_PROMETHEUS_PORT")
    if prometheus_port:
        from synapsekit._prometheus.metrics import PrometheusMetrics

        setup.metrics = PrometheusMetrics(
            start_server=True,
            host=env.get("SYNAPSEKIT_PROMETHEUS_HOST", "0.0.0.0"),
            port=int(prometheus_port),
        )

    if _flag(env.get("SYNAPSEKIT_SUMMARY")):
        setup.tally = Tally()
        _context.add_global_scope(setup.tally)
        atexit.register(_print_summary, setup.tally)

    wanted = env.get("SYNAPSEKIT_INSTRUMENT", "").strip()
    clients = [] if wanted.lower() in {"", "all"} else [c.strip() for c in wanted.split(",") if c.strip()]
    if wanted.lower() != "none":
        setup.clients = _instrument.instrument(*clients, metrics=setup.metrics, sinks=tuple(sinks))
    return setup


def _print_summary(tally: Tally) -> None:
    unknown = f", {tally.unknown_cost_calls} with unknown price" if tally.unknown_cost_calls else ""
    print(
        f"synapsekit: {tally.calls} LLM calls, {tally.input_tokens} input + {tally.output_tokens} output tokens,"
        f" ${tally.cost_usd_decimal:.6f}{unknown}, {tally.rejected_calls} rejected by budget",
        file=sys.stderr,
    )

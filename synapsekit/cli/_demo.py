"""``synapsekit demo``: a small RAG session, fully observed, offline, in a few seconds.

Everything is real except the model: the real openai SDK (through ``OpenAILLM`` and ``synapsekit.instrument()``)
talks HTTP to synapsekit's local OpenAI-compatible server on 127.0.0.1, which answers deterministically and
reports usage like the real API. Costs are priced from the bundled price data for ``gpt-4o-mini``.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import urllib.request
from collections import defaultdict
from decimal import Decimal
from typing import Any

DOCUMENTS = [
    "SynapseKit is an async-first Python library for observable LLM applications.",
    "SynapseKit counts every token, prices every call and enforces budgets before money is spent.",
    "Budgets are checked by reservation: the worst-case cost of a request is reserved before it is sent.",
    "Traces are exported over OpenTelemetry; metrics are served to Prometheus.",
    "A circuit breaker opens when a budget is exhausted and probes again when the window rolls over.",
]
QUESTIONS = [
    "What is SynapseKit?",
    "How are budgets enforced before money is spent?",
    "Where do traces and metrics go?",
    "What does the circuit breaker do?",
    "Which calls are counted?",
]
MODEL = "gpt-4o-mini"
# What the demo imports beyond the base install: (module, distribution, the extra that brings it).
REQUIREMENTS = (
    ("openai", "openai", "openai"),
    ("synapsekit_instrumentation_openai", "synapsekit-instrumentation-openai", "openai"),
    ("opentelemetry.sdk.trace", "opentelemetry-sdk", "otel"),
    ("prometheus_client", "prometheus-client", "observe"),
)


def missing_requirements() -> str | None:
    """What to install for the demo to run, as one message; None when everything is there."""
    missing: list[tuple[str, str]] = []
    for module, distribution, extra in REQUIREMENTS:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append((distribution, extra))
    if not missing:
        return None
    distributions = ", ".join(distribution for distribution, _ in missing)
    extras = ",".join(dict.fromkeys(extra for _, extra in missing))
    return f'synapsekit demo needs {distributions}: pip install "synapsekit[{extras}]"'


def _render_tree(spans: list[Any]) -> Any:
    from rich.tree import Tree

    children: dict[str | None, list[Any]] = defaultdict(list)
    ids = {span.span_id for span in spans}
    for span in sorted(spans, key=lambda s: s.start_time):
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children[parent].append(span)

    def label(span: Any) -> str:
        attributes = span.attributes
        parts = [f"[bold]{span.name}[/bold]", f"[dim]{span.duration_ms or 0:.1f} ms[/dim]"]
        if "gen_ai.usage.input_tokens" in attributes:
            parts.append(
                f"{attributes['gen_ai.usage.input_tokens']} in / {attributes.get('gen_ai.usage.output_tokens', 0)} out"
            )
        if "gen_ai.usage.cost" in attributes:
            parts.append(f"[green]${attributes['gen_ai.usage.cost']:.6f}[/green]")
        if span.status == "error":
            parts.append(f"[red]{span.error}[/red]")
        return "  ".join(parts)

    root = Tree("[bold cyan]trace[/bold cyan]")

    def grow(node: Any, parent: str | None) -> None:
        for span in children.get(parent, []):
            grow(node.add(label(span)), span.span_id)

    grow(root, None)
    return root


async def _session(questions: int, server: Any) -> dict[str, Any]:
    import synapsekit
    from synapsekit import RAG, InMemoryVectorStore, LLMConfig, OpenAILLM, RAGConfig, SynapsekitEmbeddings
    from synapsekit.observability import BudgetGuard, BudgetLimit, CostTracker, TracingMiddleware

    llm = OpenAILLM(
        LLMConfig(model=MODEL, api_key="sk-demo-offline", base_url=server.openai_base_url, max_tokens=64)
    )
    tracker = CostTracker(llm)
    guarded = BudgetGuard(llm=tracker, limit=BudgetLimit(max_cost_usd=0.05, window="day"))
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    rag = TracingMiddleware(RAG(RAGConfig(llm=guarded, vector_store=store, top_k=2)))

    rejection: Any = None
    sent_for_rejected = -1

    @synapsekit.traced(name="demo.session")
    async def session() -> list[tuple[str, str]]:
        nonlocal rejection, sent_for_rejected
        await rag.aadd(DOCUMENTS)
        answers = []
        for question in QUESTIONS[:questions]:
            answers.append((question, await rag.aquery(question)))
        # A tight budget around one more, long question: rejected before any request is sent.
        before = server.request_count
        try:
            async with synapsekit.budget(max_cost_usd=0.00001, name="tight"):
                await llm.generate("Summarise everything above in great detail. " * 20, max_tokens=4000)
        except synapsekit.BudgetExceeded as exc:
            rejection = exc
        sent_for_rejected = server.request_count - before
        return answers

    with synapsekit.track() as tally:
        answers = await session()
    return {
        "answers": answers,
        "tracker": tracker,
        "guard": guarded,
        "tally": tally,
        "rejection": rejection,
        "requests_sent_for_rejected": sent_for_rejected,
    }


def run_demo(*, otlp_endpoint: str | None = None, questions: int = 3) -> int:
    # Checked first, so a partial install gets one line naming the extras, not a traceback halfway through.
    problem = missing_requirements()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    import synapsekit
    from synapsekit.observability import PrometheusMetrics, span_buffer
    from synapsekit.testing import LLMTestServer

    console = Console()
    questions = max(1, min(questions, len(QUESTIONS)))
    if otlp_endpoint:
        from synapsekit.observability import OTelExporter

        OTelExporter(endpoint=otlp_endpoint, service_name="synapsekit-demo", insecure=True).install()
    buffer = span_buffer()
    # Port 0: the OS picks a free port, so two demos (or a demo beside a real app) never collide.
    metrics = PrometheusMetrics(start_server=True, host="127.0.0.1", port=0)
    synapsekit.instrument("openai", metrics=metrics)
    try:
        with LLMTestServer() as server:
            console.print(
                Panel.fit(
                    f"synapsekit {synapsekit.__version__} demo — the real openai SDK → local OpenAI-compatible server"
                    f" at {server.openai_base_url}\nprices: {synapsekit.pricing_source()}",
                    title="synapsekit demo",
                )
            )
            result = asyncio.run(_session(questions, server))
    finally:
        synapsekit.uninstrument()

    for question, answer in result["answers"]:
        console.print(f"[bold]Q:[/bold] {question}\n[bold]A:[/bold] {answer}\n")

    console.print(_render_tree(buffer.spans()))

    table = Table(title="Tokens and cost per model")
    for column in ("provider", "model", "calls", "input tokens", "output tokens", "cost (USD)"):
        table.add_column(column, justify="right" if column not in ("provider", "model") else "left")
    totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for record in result["tracker"].records:
        row = totals[(record.provider, record.model)]
        row[0] += 1
        row[1] += record.input_tokens
        row[2] += record.output_tokens
        row[3] += Decimal(str(record.total_cost_usd or 0))
    for (provider, model), (calls, input_tokens, output_tokens, cost) in sorted(totals.items()):
        table.add_row(provider, model, str(calls), str(input_tokens), str(output_tokens), f"${cost:.6f}")
    console.print(table)

    guard = result["guard"]
    rejection = result["rejection"]
    budget_lines = [
        f"BudgetGuard (day window): spent ${guard.spent_usd:.6f} of $0.05, circuit {guard.circuit_state.value}",
    ]
    if rejection is not None:
        budget_lines.append(
            f"[red]BudgetExceeded[/red] under `budget(max_cost_usd=0.00001)`: {rejection}"
            f"  (requests sent: {result['requests_sent_for_rejected']})"
        )
    console.print(Panel("\n".join(budget_lines), title="Budgets"))

    url = f"http://127.0.0.1:{metrics.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        exposition = response.read().decode()
    sample = [
        line
        for line in exposition.splitlines()
        if line.startswith(
            ("synapsekit_cost_usd_total", "synapsekit_tokens_total", "synapsekit_requests_total")
        )
    ]
    console.print(Panel("\n".join(sample[:8]), title=f"Prometheus endpoint {url} (sample)"))
    tally = result["tally"]
    console.print(
        f"[bold]{tally.calls}[/bold] LLM calls, {tally.input_tokens} input + {tally.output_tokens} output tokens,"
        f" [green]${tally.cost_usd_decimal:.6f}[/green]; {tally.rejected_calls} rejected by a budget."
    )
    return 0

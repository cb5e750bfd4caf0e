"""The two ASGI services of the propagated-budget test, run under uvicorn in processes of their own.

Usage, from tests/: ``python -m budget._propagation_service CONFIG_JSON``, with ``role`` ``"api"`` (opens a
propagated budget per request and calls the tools service) or ``"tools"`` (joins the incoming budget and calls
the LLM through the real openai SDK). Both sit behind ``TraceContextMiddleware``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx2
import openai
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from starlette.responses import PlainTextResponse

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit._pricing.prices import set_price
from synapsekit.observability import (
    DistributedTracer,
    PrometheusMetrics,
    TraceContextMiddleware,
    span_buffer,
)

from ._support import MODEL, prompt_of

MESSAGES: list[Any] = [{"role": "user", "content": prompt_of(3)}]


def tools_app(config: dict[str, Any]) -> FastAPI:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    synapsekit.instrument("openai", metrics=metrics)
    spans = span_buffer()
    sdk = openai.AsyncOpenAI(base_url=config["openai_base_url"], api_key="test", max_retries=0)
    api = FastAPI()

    @api.get("/work")
    async def work(calls: int, max_tokens: int = 5, local_budget: float | None = None) -> dict[str, Any]:
        answered = 0
        refused: dict[str, Any] | None = None
        local = synapsekit.budget(max_cost_usd=local_budget, name="tools-local") if local_budget else None
        try:
            if local is not None:
                local.__enter__()
            for _ in range(calls):
                await sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=max_tokens)
                answered += 1
        except BudgetExceeded as exc:
            refused = {"type": type(exc).__name__, "budget_name": exc.budget_name, "message": str(exc)}
        finally:
            if local is not None:
                local.__exit__(None, None, None)
        return {"answered": answered, "refused": refused}

    @api.get("/refusals")
    async def refusals() -> dict[str, int]:
        return synapsekit.budget_join_refusals()

    @api.get("/spans")
    async def server_spans() -> list[dict[str, Any]]:
        return [
            {"name": span.name, "attributes": {k: v for k, v in span.attributes.items() if "budget" in k}}
            for span in spans.spans()
        ]

    @api.get("/metrics")
    async def scrape() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry).decode())

    return api


def api_app(config: dict[str, Any], tracer: DistributedTracer) -> FastAPI:
    http = tracer.instrument_http_client(httpx2.AsyncClient(base_url=config["tools_url"], timeout=30))
    api = FastAPI()

    @api.get("/request")
    async def request(max_cost_usd: float, calls: int) -> dict[str, Any]:
        with synapsekit.budget(
            max_cost_usd=max_cost_usd, ledger=config["redis_url"], propagate=True, name="user-request"
        ) as scope:
            reply = (await http.get("/work", params={"calls": calls})).json()
        # The tools service spent through the shared ledger: the originator sees it.
        return {"tools": reply, "spent_usd": scope.spent_usd, "budget_id": scope.remote.budget_id}

    return api


def main(config: dict[str, Any]) -> None:
    set_price(MODEL, input_per_mtok="1", output_per_mtok="2")
    if config.get("ledger"):
        synapsekit.register_ledger(
            "shared",
            config["ledger"],
            secret=config.get("secret"),
            on_ledger_error=config.get("on_ledger_error", "fail_closed"),
        )
    tracer = DistributedTracer(f"{config['role']}-service")
    api = tools_app(config) if config["role"] == "tools" else api_app(config, tracer)

    @api.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(
        TraceContextMiddleware(api, tracer), host="127.0.0.1", port=config["port"], log_level="warning"
    )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))

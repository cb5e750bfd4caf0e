"""PrometheusMetrics (spec example): record each call by hand, then print the scrape endpoint's totals."""

import asyncio
import os
import urllib.request

from synapsekit import LLMConfig, OpenAILLM
from synapsekit.observability import CostTracker, PrometheusMetrics

PORT = int(os.environ.get("PROMETHEUS_PORT", "8000"))


async def main():
    llm = OpenAILLM(
        LLMConfig(
            model="gpt-4o-mini",
            api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
            base_url=os.environ.get("OPENAI_BASE_URL"),
        )
    )
    # Start a Prometheus HTTP server
    prom = PrometheusMetrics(start_server=True, host="127.0.0.1", port=PORT)
    # Wrap with CostTracker to get cost data
    tracker = CostTracker(llm)
    questions = ["What is RAG?", "Explain embeddings.", "What is an LLM?"]
    for question in questions:
        await tracker.generate(question)
        # Record metrics after each call
        last_record = tracker.records[-1]
        prom.record_llm(
            model=last_record.model,
            provider=last_record.provider,
            cost_usd=last_record.total_cost_usd,
            total_tokens=last_record.input_tokens + last_record.output_tokens,
            latency_ms=None,  # CostTracker does not record latency; use TracingMiddleware if needed
        )
    print(f"Total cost: ${tracker.cost_so_far:.4f}")
    # Prometheus scrape endpoint is now live at http://127.0.0.1:PORT/metrics


asyncio.run(main())
with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics") as response:
    for line in response.read().decode().splitlines():
        if line.startswith(("synapsekit_cost_usd_total{", "synapsekit_tokens_total{")):
            print(line)

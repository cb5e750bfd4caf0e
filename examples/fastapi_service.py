"""A FastAPI service that continues incoming traces (W3C or B3) and answers with an LLM call inside them.

OPENAI_BASE_URL=... python examples/fastapi_service.py --port 8080
curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' localhost:8080/ask?q=hi
"""

import argparse
import os

import uvicorn
from fastapi import FastAPI
from opentelemetry import trace

import synapsekit
from synapsekit import LLMConfig, OpenAILLM
from synapsekit.observability import DistributedTracer, TraceContextMiddleware, span_buffer

span_buffer()  # an OpenTelemetry SDK provider, so spans are recorded (use OTelExporter to export them)
synapsekit.instrument("openai")
tracer = DistributedTracer(
    service_name="rag-service", propagation_format=os.environ.get("PROPAGATION", "w3c")
)
llm = OpenAILLM(
    LLMConfig(
        model="gpt-4o-mini",
        api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
        base_url=os.environ.get("OPENAI_BASE_URL"),
    )
)

api = FastAPI()


@api.get("/ask")
async def ask(q: str) -> dict[str, object]:
    with synapsekit.track() as tally:
        answer = await llm.generate(q)
    context = trace.get_current_span().get_span_context()
    return {
        "answer": answer,
        "trace_id": format(context.trace_id, "032x"),
        "tokens": tally.tokens,
        "cost_usd": tally.cost_usd,
    }


app = TraceContextMiddleware(api, tracer)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")

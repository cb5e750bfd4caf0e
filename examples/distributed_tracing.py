"""DistributedTracer: one trace across two services, with W3C (default) or B3 headers.

The "client service" injects its context into outgoing headers; the "server service" extracts it and
continues the trace. Here both run in one process to keep the example short; see
examples/fastapi_service.py for a real HTTP hop.
"""

import asyncio
import os
import sys

from synapsekit import LLMConfig, OpenAILLM
from synapsekit.observability import DistributedTracer, span_buffer

FORMAT = sys.argv[1] if len(sys.argv) > 1 else "w3c"
buffer = span_buffer()
llm = OpenAILLM(
    LLMConfig(
        model="gpt-4o-mini",
        api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
        base_url=os.environ.get("OPENAI_BASE_URL"),
    )
)


async def server_service(headers: dict[str, str]) -> str:
    tracer = DistributedTracer(service_name="rag-service", propagation_format=FORMAT)
    parent = tracer.extract_context(headers)
    with tracer.start_span("rag.query", parent_context=parent) as span:
        answer = await llm.generate("What is distributed tracing?")
        span.set_attribute("answer_length", len(answer))
        return span.trace_id


async def main() -> None:
    client = DistributedTracer(service_name="web-frontend", propagation_format=FORMAT)
    with client.start_span("frontend.request") as span:
        headers = client.inject_context({})
        print(f"headers sent: {sorted(headers)}")
        server_trace = await server_service(headers)
    print(f"same trace across the hop: {server_trace == span.trace_id}")
    names = sorted(s.name for s in buffer.spans() if s.trace_id == span.trace_id)
    print(f"spans in the trace: {names}")


asyncio.run(main())

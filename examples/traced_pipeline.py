"""@traced: spans for your own functions, with the LLM calls inside as children."""

import asyncio
import os

import synapsekit
from synapsekit import LLMConfig, OpenAILLM
from synapsekit.observability import span_buffer

buffer = span_buffer()  # keeps finished spans in memory (installs an OpenTelemetry SDK provider)
llm = OpenAILLM(
    LLMConfig(
        model="gpt-4o-mini",
        api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
        base_url=os.environ.get("OPENAI_BASE_URL"),
    )
)
synapsekit.instrument("openai")


@synapsekit.traced
async def retrieve(question: str) -> list[str]:
    return [f"context for {question}"]


@synapsekit.traced(name="rag.answer", attributes={"app.stage": "demo"})
async def answer(question: str) -> str:
    context = await retrieve(question)
    return await llm.generate(f"{context[0]}: {question}")


async def main() -> None:
    await answer("What is tracing?")
    spans = {span.span_id: span for span in buffer.spans()}
    for span in sorted(spans.values(), key=lambda s: s.start_time):
        depth, parent = 0, span.parent_span_id
        while parent in spans:
            depth, parent = depth + 1, spans[parent].parent_span_id
        tokens = span.attributes.get("gen_ai.usage.input_tokens")
        suffix = f" ({tokens} input tokens)" if tokens is not None else ""
        print("  " * depth + span.name + suffix)


asyncio.run(main())

"""TokenTracer (spec example). Run against the local server: OPENAI_BASE_URL=$(synapsekit serve) or see README."""

import asyncio
import os

from synapsekit import LLMConfig, OpenAILLM
from synapsekit.observability import TokenTracer


async def main() -> None:
    my_llm = OpenAILLM(
        LLMConfig(
            model="gpt-4o-mini",
            api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
            base_url=os.environ.get("OPENAI_BASE_URL"),
        )
    )
    tracer = TokenTracer(llm=my_llm)
    response = await tracer.generate("Explain RAG in one sentence.")
    print(response)
    print(tracer.tokens_used)  # e.g. {"input": 12, "output": 38, "total": 50}


asyncio.run(main())

"""CostTracker (spec example): ten short prompts and their total cost."""

import asyncio
import os

from synapsekit import LLMConfig, OpenAILLM
from synapsekit.observability import CostTracker


async def main() -> None:
    openai_llm = OpenAILLM(
        LLMConfig(
            model="gpt-4o-mini",
            api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
            base_url=os.environ.get("OPENAI_BASE_URL"),
        )
    )
    tracker = CostTracker(llm=openai_llm)
    for _ in range(10):
        await tracker.generate("Short prompt")
    print(f"Total cost: ${tracker.cost_so_far:.4f}")
    last = tracker.records[-1]
    print(
        f"Last call: {last.model} {last.input_tokens} in / {last.output_tokens} out = ${last.total_cost_usd:.8f}"
    )


asyncio.run(main())

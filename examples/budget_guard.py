"""BudgetGuard (spec example), with a limit small enough to see it stop a call."""

import asyncio
import os

from synapsekit import LLMConfig, OpenAILLM
from synapsekit.observability import BudgetExceeded, BudgetGuard, BudgetLimit


async def main() -> None:
    llm = OpenAILLM(
        LLMConfig(
            model="gpt-4o-mini",
            api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
            base_url=os.environ.get("OPENAI_BASE_URL"),
            max_tokens=20,
        )
    )
    guard = BudgetGuard(
        llm=llm,
        limit=BudgetLimit(max_cost_usd=0.00005, window="day"),
    )
    for attempt in range(1, 11):
        try:
            await guard.generate("My prompt")
            print(f"call {attempt}: ok, spent ${guard.spent_usd:.6f}")
        except BudgetExceeded as e:
            print(f"Budget exceeded: {e.spent:.4f} / {e.limit:.4f}")
            print(f"call {attempt}: rejected before it was sent; circuit {guard.circuit_state.value}")
            break


asyncio.run(main())

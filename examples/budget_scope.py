"""An ambient budget: every LLM call inside the block, in any task, is admitted against it first."""

import asyncio
import os

import openai

import synapsekit

synapsekit.instrument("openai")


async def main() -> None:
    client = openai.AsyncOpenAI(
        api_key=os.environ.get("OPENAI_API_KEY", "sk-..."), base_url=os.environ.get("OPENAI_BASE_URL")
    )

    async def ask(question: str) -> str:
        response = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}], max_tokens=50
        )
        return response.choices[0].message.content or ""

    with synapsekit.track() as tally:
        async with synapsekit.budget(max_cost_usd=0.0001, name="agent") as agent_budget:
            results = await asyncio.gather(
                *(ask(f"Question number {i}") for i in range(20)), return_exceptions=True
            )
    rejected = [r for r in results if isinstance(r, synapsekit.BudgetExceeded)]
    answered = [r for r in results if isinstance(r, str)]
    print(f"{len(answered)} answered, {len(rejected)} rejected before they were sent")
    if rejected:
        first = rejected[0]
        print(f"first rejection: budget {first.budget_name!r} ({first.window}), limit ${first.limit:.6f}")
    print(f"{tally.calls} calls reached the provider, cost ${tally.cost_usd_decimal:.8f}")
    print(f"budget spent ${agent_budget.spent_usd:.8f}, remaining ${agent_budget.remaining_usd:.8f}")


asyncio.run(main())

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
        try:
            async with synapsekit.budget(max_cost_usd=0.0001, name="agent"):
                await asyncio.gather(*(ask(f"Question number {i}") for i in range(20)))
        except synapsekit.BudgetExceeded as exc:
            print(f"stopped: {exc.budget_name} {exc.window}: {exc.spent:.6f} / {exc.limit:.6f} USD")
    print(f"{tally.calls} calls sent, {tally.rejected_calls} rejected, cost ${tally.cost_usd_decimal:.6f}")


asyncio.run(main())

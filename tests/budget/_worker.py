"""A separate process spending from a shared budget: ``python -m budget._worker '<json>'``.

Arguments (JSON): ``ledger`` (URL), ``key``, ``limit_nano``, ``base_url`` of the test server, ``calls`` (how
many to attempt, concurrently), or ``forever`` (call one after another until killed); optionally
``outer_key`` and ``outer_limit_nano``: a second budget on the same ledger around the first. Prints one JSON line:
``{"answered": n, "refused": m}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from synapsekit import BudgetExceeded
from synapsekit._budget import budget
from synapsekit._pricing.prices import set_price

from ._support import MODEL, ServerLLM, prompt_of, usd


async def main(options: dict[str, Any]) -> dict[str, int]:
    set_price(MODEL, input_per_mtok="1", output_per_mtok="2")
    llm = ServerLLM(options["base_url"])
    scope = budget(max_cost_usd=usd(options["limit_nano"]), ledger=options["ledger"], key=options["key"])
    counts = {"answered": 0, "refused": 0}

    outer = (
        budget(
            max_cost_usd=usd(options["outer_limit_nano"]), ledger=options["ledger"], key=options["outer_key"]
        )
        if "outer_key" in options
        else None
    )

    async def one() -> None:
        if outer is not None:
            async with outer, scope:
                await attempt()
        else:
            async with scope:
                await attempt()

    async def attempt() -> None:
        try:
            await llm.generate(prompt_of(3), max_tokens=5, headers={"x-test-latency-ms": "10"})
        except BudgetExceeded:
            counts["refused"] += 1
        else:
            counts["answered"] += 1

    try:
        if options.get("forever"):
            print("started", flush=True)
            while True:
                await one()
        await asyncio.gather(*(one() for _ in range(options["calls"])))
    finally:
        await llm.aclose()
    return counts


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)

"""One scenario in one configuration, phases separated for callgrind (see ``_callgrind.py``).

``python bench/callgrind/driver.py SCENARIO CONFIGURATION N M`` runs a warm-up, then N operations, then M
more, with a phase marker (:func:`os.getppid`) before, between and after. Natively it only checks that the
scenario works; ``run.py`` runs it under ``valgrind --tool=callgrind --dump-before=getppid``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Final, get_args

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _configs import (
    CONFIGURATIONS,
    PROMPT_SIZES,
    Configuration,
    Feature,
    async_client,
    async_create_runner,
    configuration,
    create,
    read_stream,
    request_with_prompt,
    sync_client,
    traced_configuration,
)

SCENARIOS: Final = (
    "call_sync",
    "call_async",
    "stream",
    "traced",
    "budget",
    "budgets5",
    "budgets20",
    *PROMPT_SIZES,
    "cost",
    "metrics",
)
WARMUP: Final = 30
_FEATURES: Final[dict[str, Feature]] = {
    "budget": "budget",
    "budgets5": "budgets5",
    "budgets20": "budgets20",
    # The input estimate is the budget's: a prompt scenario is the sync call with one budget in scope.
    **{name: "budget" for name in PROMPT_SIZES},
    "cost": "cost",
    "metrics": "metrics",
}


def operation(scenario: str, name: Configuration, stack: ExitStack) -> Callable[[], object]:
    """The measured operation, with whatever it needs entered on ``stack``."""
    if scenario == "traced":
        function = stack.enter_context(traced_configuration(name))
        return lambda: function(1)
    stack.enter_context(configuration(name, _FEATURES.get(scenario, "none")))
    if scenario == "call_async":
        run, close = async_create_runner(async_client())
        stack.callback(close)
        return run
    client = sync_client()
    if scenario == "stream":
        return lambda: read_stream(client)
    if scenario in PROMPT_SIZES:
        request = request_with_prompt(PROMPT_SIZES[scenario])
        return lambda: create(client, request)
    return lambda: create(client)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("configuration", choices=get_args(Configuration))
    parser.add_argument("n", type=int)
    parser.add_argument("m", type=int)
    args = parser.parse_args()
    assert args.configuration in CONFIGURATIONS
    with ExitStack() as stack:
        run = operation(args.scenario, args.configuration, stack)
        for _ in range(WARMUP):
            run()
        # The heap built by start-up, imports and warm-up (hundreds of thousands of objects: the SDKs,
        # pydantic, OpenTelemetry) leaves the collector's generations. Otherwise whether an occasional
        # full collection lands inside the measured phase decides hundreds of thousands of instructions
        # per operation, and configurations stop adding up. What the operations allocate is still
        # collected, and counted.
        gc.collect()
        gc.freeze()
        for count in (args.n, args.m):
            os.getppid()  # phase marker: callgrind dumps its counters here
            for _ in range(count):
                run()
        os.getppid()


if __name__ == "__main__":
    main()

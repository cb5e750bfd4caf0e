"""The first priced call of a process against its second: wall-clock and CPU, each in a fresh process.

    uv run --frozen python bench/first_call.py [--runs 7] [--json PATH]

Each run is a new interpreter that imports the openai SDK (and synapsekit), sets up its configuration, then
makes two identical non-streamed calls over the mock transport of ``_configs.py``, timing each: wall-clock
(``perf_counter``) and the CPU time of the calling thread (``thread_time``: what the request itself pays; a
background load runs in another thread). Configurations:

- ``bare``: the SDK alone: the noise floor. In every configuration the SDK has already made one
  uninstrumented request (its own first request is slow: lazy imports, validators built on first use), so
  what remains is synapsekit's first-call cost.
- ``priced``: ``synapsekit.instrument("openai")`` and a budget scope (every call priced and admitted),
  first request straight after that set-up — the worst case for a price load started at set-up.
- ``priced_after_startup``: the same, with the first request 1 s after set-up (an application that
  configures at start-up and serves later).

Each is run with the interpreter's bytecode cache as installed, and again with no cached bytecode at all
(``PYTHONDONTWRITEBYTECODE=1`` and an empty ``PYTHONPYCACHEPREFIX``: every module is compiled on import —
genai-prices' 1.6 MB data module among them — as in a sandbox or a read-only install without ``.pyc``).
The medians over ``--runs`` processes are printed as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
CONFIGURATIONS: Final = ("bare", "priced", "priced_after_startup")


def child(name: str) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from _configs import create, sync_client

    client = sync_client()
    # The SDK's own first request is slow too (lazy imports, validators built on first use: ~250 ms here);
    # one uninstrumented request first leaves only synapsekit's first-call cost to measure.
    create(client)
    if name != "bare":
        import synapsekit

        synapsekit.instrument("openai")
        synapsekit.budget(max_cost_usd=1_000_000.0).__enter__()
        if name == "priced_after_startup":
            time.sleep(1.0)
    timings: dict[str, float] = {}
    for which in ("first", "second"):
        wall, cpu = time.perf_counter(), time.thread_time()
        create(client)
        timings[f"{which}_wall_ms"] = (time.perf_counter() - wall) * 1e3
        timings[f"{which}_cpu_ms"] = (time.thread_time() - cpu) * 1e3
    return timings


def run(name: str, *, cached_bytecode: bool) -> dict[str, float]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="pycache-") as empty:
        if cached_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env.pop("PYTHONPYCACHEPREFIX", None)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = empty
        completed = subprocess.run(
            [sys.executable, __file__, "--child", name], env=env, capture_output=True, text=True, check=True
        )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=CONFIGURATIONS)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    rows: list[dict[str, Any]] = []
    for cached in (True, False):
        for name in CONFIGURATIONS:
            samples = [run(name, cached_bytecode=cached) for _ in range(args.runs)]
            row: dict[str, Any] = {"configuration": name, "cached_bytecode": cached}
            for key in samples[0]:
                row[key] = statistics.median(sample[key] for sample in samples)
            for unit in ("wall", "cpu"):
                row[f"extra_{unit}_ms"] = statistics.median(
                    sample[f"first_{unit}_ms"] - sample[f"second_{unit}_ms"] for sample in samples
                )
            rows.append(row)
            print(
                name,
                cached,
                {k: round(v, 2) for k, v in row.items() if isinstance(v, float)},
                file=sys.stderr,
            )
    print(
        "| bytecode | configuration | first wall ms | second wall ms | first - second wall ms | first CPU ms "
        "| second CPU ms | first - second CPU ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {'cached' if row['cached_bytecode'] else 'none'} | {row['configuration']} "
            f"| {row['first_wall_ms']:.2f} | {row['second_wall_ms']:.2f} | {row['extra_wall_ms']:+.2f} "
            f"| {row['first_cpu_ms']:.2f} | {row['second_cpu_ms']:.2f} | {row['extra_cpu_ms']:+.2f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Instructions per operation under callgrind for every scenario x configuration (``nox -s bench_callgrind``).

Deterministic where wall-clock is not: the counts are the same on a busy 2-core machine, so a regression of
a few hundred instructions per call is visible. Prints a markdown table (per operation, overhead against
the scenario's baseline, and the ratio) and writes it with the raw counts to ``.benchmarks/``.

    uv run --frozen python bench/callgrind/run.py [--jobs 2] [--scenarios call_sync stream ...] \
        [--seeds 0 1 2] [--layouts 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from _callgrind import CallgrindError, compile_first, phase_instructions

ROOT: Final = Path(__file__).resolve().parents[2]
DRIVER: Final = Path(__file__).resolve().parent / "driver.py"
CONFIGURATIONS: Final = ("baseline", "accounting", "full", "disabled")
# (N, M) per scenario: enough that M dominates any one-off, small enough for valgrind (~50x slower).
COUNTS: Final = {
    "call_sync": (20, 100),
    "call_async": (20, 100),
    "stream": (4, 20),
    "traced": (1000, 5000),
    "budget": (20, 100),
    "budgets5": (20, 100),
    "budgets20": (10, 50),
    "prompt_1k": (20, 100),
    "prompt_100k": (10, 50),
    "prompt_1m": (4, 20),
    "cost": (20, 100),
    "metrics": (20, 100),
}


def command(scenario: str, name: str, n: int, m: int) -> list[str]:
    """The driver's command line: a warm-up, then ``n`` operations, then ``m`` more."""
    return [sys.executable, str(DRIVER), scenario, name, str(n), str(m)]


def measure(scenario: str, name: str, seed: int, layout: int) -> tuple[str, str, str, float | str]:
    n, m = COUNTS[scenario]
    variant = f"{seed}/{layout}"
    try:
        phases = phase_instructions(
            command(scenario, name, n, m), cwd=str(ROOT), hash_seed=seed, layout=layout
        )
    except (CallgrindError, OSError) as exc:
        return scenario, name, variant, f"failed: {exc}"
    # phases: start-up and warm-up, N operations, M operations, the exit.
    return scenario, name, variant, phases[2] / m


# scenario -> configuration -> "hash seed/layout" -> count
Counts = dict[str, dict[str, dict[str, float | str]]]


def table(results: Counts) -> str:
    """Per operation and over the baseline, each the mean over the runs (hash seeds x layouts); with several
    runs, the range of the overheads run by run (each configuration against the baseline of its own run)."""
    several = any(len(by_run) > 1 for by_name in results.values() for by_run in by_name.values())
    lines = [
        "| scenario | configuration | instructions / op | overhead / op | ratio |"
        + (" overhead, run by run: min … max |" if several else ""),
        "|---|---|---:|---:|---:|" + ("---:|" if several else ""),
    ]
    for scenario, by_name in results.items():
        base = by_name.get("baseline", {})
        for name in CONFIGURATIONS:
            if name not in by_name:
                continue
            by_run = by_name[name]
            failed = [value for value in by_run.values() if not isinstance(value, float)]
            if failed:
                lines.append(f"| {scenario} | {name} | {failed[0]} | | |" + (" |" if several else ""))
                continue
            value = statistics.mean([float(v) for v in by_run.values()])
            overheads = [
                float(by_run[run]) - float(base[run]) for run in by_run if isinstance(base.get(run), float)
            ]
            if overheads and name != "baseline":
                overhead = f"{statistics.mean(overheads):+,.0f}"
                ratio = f"{value / statistics.mean([float(base[run]) for run in by_run]):.4f}"
                spread = f" {min(overheads):+,.0f} … {max(overheads):+,.0f} |" if several else ""
            else:
                overhead = ratio = ""
                spread = " |" if several else ""
            lines.append(f"| {scenario} | {name} | {value:,.0f} | {overhead} | {ratio} |{spread}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--jobs", type=int, default=2, help="parallel valgrind runs (counts do not depend on it)"
    )
    parser.add_argument("--scenarios", nargs="*", default=list(COUNTS), choices=list(COUNTS))
    parser.add_argument(
        "--configurations", nargs="*", default=list(CONFIGURATIONS), choices=list(CONFIGURATIONS)
    )
    parser.add_argument(
        "--seeds",
        nargs="*",
        type=int,
        default=[0],
        help="string-hash seeds, one run each; the rows are their mean (each seed lays the heap out "
        "differently, which alone moves a row by a few thousand instructions)",
    )
    parser.add_argument(
        "--layouts",
        nargs="*",
        type=int,
        default=[0],
        help="heap layouts, one run each per seed (layout k > 0 pads the environment: see "
        "_callgrind.layout_padding); the rows are the mean over seeds x layouts",
    )
    parser.add_argument(
        "--stream-chunks",
        type=int,
        help="content chunks of the stream scenario (default 50). Two runs at different lengths split the "
        "stream's overhead into a part per chunk and a part per stream; the count is passed zero-padded to "
        "four digits, so that runs at different lengths share a layout",
    )
    parser.add_argument("--out", default=str(ROOT / ".benchmarks" / "callgrind"))
    args = parser.parse_args()
    if args.stream_chunks is not None:
        if not 1 <= args.stream_chunks <= 9999:
            parser.error("--stream-chunks must be from 1 to 9999")
        # Read by bench/_configs.py in each measured process (the name is repeated: run.py imports no SDK).
        os.environ["SYNAPSEKIT_BENCH_STREAM_CHUNKS"] = f"{args.stream_chunks:04d}"
    jobs = [
        (scenario, name, seed, layout)
        for scenario in args.scenarios
        for name in args.configurations
        for seed in args.seeds
        for layout in args.layouts
    ]
    results: Counts = {scenario: {} for scenario in args.scenarios}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        # Every module's bytecode cache written before anything is counted (see _callgrind.compile_first): a
        # run that compiles at start-up counts another heap layout than one that does not.
        pairs = list(dict.fromkeys((scenario, name) for scenario, name, _, _ in jobs))
        try:
            list(pool.map(lambda pair: compile_first(command(*pair, 0, 0), cwd=str(ROOT)), pairs))
        except CallgrindError as exc:
            sys.exit(f"a scenario failed natively: {exc}")
        for scenario, name, variant, value in pool.map(lambda job: measure(*job), jobs):
            results[scenario].setdefault(name, {})[variant] = value
            print(f"{scenario:<11} {name:<11} seed/layout {variant} {value}", file=sys.stderr, flush=True)
    markdown = table(results)
    print(markdown)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(markdown + "\n")
    out.with_suffix(".json").write_text(json.dumps({"counts": COUNTS, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

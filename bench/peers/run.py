"""Side-by-side overhead against the established OpenAI instrumentations (``nox -s bench_peers``).

Each peer patches openai globally, so each runs in its own virtualenv (built here with ``uv venv`` +
``uv pip install`` under ``.nox/peers/``) and its own process, on the same canned traffic (``_scenario.py``).
All venvs get the same openai (``OPENAI_VERSION``, a 2.x: the peers do not support openai 3's httpx2). The
bare SDK runs first, between every two peers and last, so drift of the machine shows in the table; a peer's
overhead is its median minus the mean of the bare runs just before and after it.

Nothing leaves the machine at run time: the proxies point at a closed loopback port, OTLP endpoints too,
and every exporter is replaced by one that drops spans (see the peer scripts). Installing from PyPI is the
only network use. ``--callgrind`` adds instructions per call and per stream (slow: minutes per peer).

    uv run --frozen python bench/peers/run.py [--callgrind] [--only bare otel_v2 ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
ROOT: Final = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "callgrind"))

from _callgrind import CallgrindError, phase_instructions  # noqa: E402  (bench/ is not a package)

PYTHON: Final = "3.11"
OPENAI_VERSION: Final = "2.54.0"
COMMON: Final = (f"openai=={OPENAI_VERSION}", "httpx>=0.28,<0.29")
# The closed "discard" port: anything that tries to send fails at once, on this machine.
NOWHERE: Final = "http://127.0.0.1:9"
CALLGRIND_COUNTS: Final = (20, 100)  # N and M calls; streams are a tenth of each


@dataclass(frozen=True)
class Peer:
    key: str
    script: str
    packages: tuple[str, ...]
    why_pinned: str = ""


PEERS: Final = (
    Peer(
        "otel_v2",
        "peer_otel_openai_v2.py",
        ("opentelemetry-instrumentation-openai-v2", "opentelemetry-sdk", "opentelemetry-util-genai<1.2"),
        # 2.4b0 imports opentelemetry.util.genai.instruments, which 1.2b0 renamed (_instruments).
        why_pinned="opentelemetry-util-genai<1.2",
    ),
    Peer("openllmetry", "peer_openllmetry.py", ("opentelemetry-instrumentation-openai", "opentelemetry-sdk")),
    Peer("openlit", "peer_openlit.py", ("openlit",)),
    Peer("logfire", "peer_logfire.py", ("logfire",)),
    Peer("langfuse", "peer_langfuse.py", ("langfuse",)),
    Peer(
        "synapsekit_accounting",
        "peer_synapsekit_accounting.py",
        ("-e", str(ROOT), "-e", str(ROOT / "instrumentation" / "openai")),
    ),
    Peer(
        "synapsekit_spans",
        "peer_synapsekit_spans.py",
        ("-e", str(ROOT), "-e", str(ROOT / "instrumentation" / "openai"), "opentelemetry-sdk"),
    ),
    Peer(
        "synapsekit_full",
        "peer_synapsekit_full.py",
        (
            "-e",
            str(ROOT),
            "-e",
            str(ROOT / "instrumentation" / "openai"),
            "opentelemetry-sdk",
            "prometheus-client",
        ),
    ),
)
BARE: Final = Peer("bare", "peer_bare.py", ())


@dataclass
class Outcome:
    peer: Peer
    result: dict[str, Any] | None = None
    error: str | None = None
    instructions: tuple[float, float] | None = None
    instructions_error: str | None = None
    bare_neighbours: list[dict[str, Any]] = field(default_factory=list)


def offline_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "VIRTUAL_ENV"))}
    env.update(
        HTTP_PROXY=NOWHERE,
        HTTPS_PROXY=NOWHERE,
        ALL_PROXY=NOWHERE,
        NO_PROXY="",
        OTEL_EXPORTER_OTLP_ENDPOINT=NOWHERE,
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        DO_NOT_TRACK="1",
        TRACELOOP_TELEMETRY="false",
        LOGFIRE_SEND_TO_LOGFIRE="false",
        LANGFUSE_HOST=NOWHERE,
        LANGFUSE_BASE_URL=NOWHERE,
    )
    # Bytecode caches are written: each peer's timing run comes before its counted ones, so every counted run
    # finds its modules compiled (one that compiles at start-up counts another heap layout: see
    # callgrind/_callgrind.compile_first). The counted runs may write them whatever this says.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def python_of(venvs: Path, peer: Peer) -> Path:
    return venvs / peer.key / "bin" / "python"


def build(venvs: Path, peer: Peer) -> str | None:
    """Create the peer's venv and install it; the reason on failure."""
    steps = [
        ["uv", "venv", "-q", "--allow-existing", "--python", PYTHON, str(venvs / peer.key)],
        ["uv", "pip", "install", "-q", "--python", str(python_of(venvs, peer)), *COMMON, *peer.packages],
    ]
    for step in steps:
        completed = subprocess.run(step, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            lines = completed.stderr.strip().splitlines() or [f"exit {completed.returncode}"]
            return f"install failed: {lines[-1]}"
    return None


def run(venvs: Path, peer: Peer, extra: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    command = [str(python_of(venvs, peer)), str(HERE / peer.script), *extra]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, env=offline_env(), cwd=venvs, timeout=1800, check=False
        )
    except subprocess.TimeoutExpired:
        return None, "timed out after 30 min"
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr.strip().splitlines() or [f"exit {completed.returncode}"])[-1]
        return None, f"run failed: {tail}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result, None


def instructions(
    venvs: Path, peer: Peer, seeds: list[int], layouts: list[int]
) -> tuple[tuple[float, float] | None, str | None]:
    """Instructions per call and per stream: phases are start-up, N calls, M calls, N/10 and M/10 streams.

    The mean over ``seeds`` x ``layouts`` (string-hash seeds and environment paddings: each lays the heap
    out differently, which alone moves a count by a few thousand instructions per call and far more per
    stream; see ``callgrind/_callgrind.layout_padding``); every peer is counted with the same ones.
    """
    n, m = CALLGRIND_COUNTS
    command = [str(python_of(venvs, peer)), str(HERE / peer.script), "--callgrind", str(n), str(m)]
    calls, streams = [], []
    for seed, layout in itertools.product(seeds, layouts):
        try:
            phases = phase_instructions(
                command, env=offline_env(), cwd=str(venvs), hash_seed=seed, layout=layout
            )
        except (CallgrindError, OSError) as exc:
            return None, str(exc)
        calls.append(phases[2] / m)
        streams.append(phases[4] / (m // 10))
    return (statistics.mean(calls), statistics.mean(streams)), None


def _us(value: float) -> str:
    return f"{value:,.1f}"


def _versions(result: dict[str, Any]) -> str:
    return ", ".join(f"{name} {version}" for name, version in result["versions"].items() if name != "httpx")


def table(
    outcomes: list[Outcome], bare_runs: list[dict[str, Any]], bare_instructions: tuple[float, float] | None
) -> str:
    bare_call = statistics.mean(run["call_us"] for run in bare_runs)
    bare_stream = statistics.mean(run["stream_us"] for run in bare_runs)
    lines = [
        f"openai {OPENAI_VERSION} over httpx.MockTransport, Python {bare_runs[0]['python']}; medians of"
        " rounds; overhead = peer - mean of the bare runs just before and after it.",
        "",
        "| peer | versions | call µs | overhead / call µs | stream µs | overhead / stream µs"
        " | instr. overhead / call | instr. overhead / stream | spans / op | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    instr_call = instr_stream = "n/a"
    if bare_instructions is not None:
        instr_call, instr_stream = (f"{value:,.0f} (bare)" for value in bare_instructions)
    lines.append(
        f"| bare openai SDK (mean of {len(bare_runs)} runs) | openai {OPENAI_VERSION} | {_us(bare_call)} | 0 |"
        f" {_us(bare_stream)} | 0 | {instr_call} | {instr_stream} | | |"
    )
    for outcome in outcomes:
        if outcome.result is None:
            lines.append(f"| {outcome.peer.key} | | | | | | | | | {outcome.error} |")
            continue
        result = outcome.result
        near_call = statistics.mean(run["call_us"] for run in outcome.bare_neighbours)
        near_stream = statistics.mean(run["stream_us"] for run in outcome.bare_neighbours)
        call_over, stream_over = result["call_us"] - near_call, result["stream_us"] - near_stream
        instr = ("not measured", "not measured")
        if outcome.instructions is not None and bare_instructions is not None:
            (call_i, stream_i), (bare_call_i, bare_stream_i) = outcome.instructions, bare_instructions
            instr = (
                f"{call_i - bare_call_i:+,.0f} ({(call_i - bare_call_i) / bare_call_i:+.2%})",
                f"{stream_i - bare_stream_i:+,.0f} ({(stream_i - bare_stream_i) / bare_stream_i:+.2%})",
            )
        elif outcome.instructions_error:
            instr = (f"failed: {outcome.instructions_error}", "")
        notes = result.get("notes", "")
        if outcome.peer.why_pinned:
            notes = f"{notes}; pinned {outcome.peer.why_pinned}".lstrip("; ")
        lines.append(
            f"| {result['peer']} | {_versions(result)} | {_us(result['call_us'])} |"
            f" {call_over:+,.1f} ({call_over / near_call:+.1%}) | {_us(result['stream_us'])} |"
            f" {stream_over:+,.1f} ({stream_over / near_stream:+.1%}) | {instr[0]} | {instr[1]} |"
            f" {result['spans_per_call'] if result['spans_per_call'] is not None else 'no tracing'} | {notes} |"
        )
    drift = ", ".join(f"{run['call_us']:.1f}/{run['stream_us']:.1f}" for run in bare_runs)
    lines += ["", f"Bare baseline drift across the run (call µs/stream µs, in order): {drift}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venvs", default=str(ROOT / ".nox" / "peers"))
    parser.add_argument("--only", nargs="*", choices=[peer.key for peer in PEERS])
    parser.add_argument("--callgrind", action="store_true", help="also count instructions (slow)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel callgrind runs")
    parser.add_argument(
        "--seeds",
        nargs="*",
        type=int,
        default=[0],
        help="string-hash seeds for callgrind; counts are their mean",
    )
    parser.add_argument(
        "--layouts",
        nargs="*",
        type=int,
        default=[0],
        help="heap layouts for callgrind (environment paddings), each run with every seed; counts are the mean",
    )
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--out", default=str(ROOT / ".benchmarks" / "peers"))
    args = parser.parse_args()
    venvs = Path(args.venvs)
    venvs.mkdir(parents=True, exist_ok=True)
    peers = [peer for peer in PEERS if not args.only or peer.key in args.only]
    timing = ["--rounds", str(args.rounds)]

    build_error = build(venvs, BARE)
    if build_error:
        sys.exit(f"the bare baseline could not be built: {build_error}")
    outcomes = [Outcome(peer, error=build(venvs, peer)) for peer in peers]
    bare_runs: list[dict[str, Any]] = []

    def bare() -> dict[str, Any]:
        result, error = run(venvs, BARE, timing)
        if result is None:
            sys.exit(f"the bare baseline failed: {error}")
        bare_runs.append(result)
        print(
            f"bare: {result['call_us']} µs/call {result['stream_us']} µs/stream", file=sys.stderr, flush=True
        )
        return result

    previous = bare()
    for outcome in outcomes:
        if outcome.error is not None:
            continue
        outcome.result, outcome.error = run(venvs, outcome.peer, timing)
        print(f"{outcome.peer.key}: {outcome.result or outcome.error}", file=sys.stderr, flush=True)
        following = bare()
        outcome.bare_neighbours = [previous, following]
        previous = following

    bare_instructions = None
    if args.callgrind:
        ready = [outcome for outcome in outcomes if outcome.result is not None]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            bare_future = pool.submit(instructions, venvs, BARE, args.seeds, args.layouts)
            counted = list(
                pool.map(lambda outcome: instructions(venvs, outcome.peer, args.seeds, args.layouts), ready)
            )
            bare_instructions, bare_error = bare_future.result()
        if bare_instructions is None:
            print(f"bare under callgrind failed: {bare_error}", file=sys.stderr)
        for outcome, (value, error) in zip(ready, counted, strict=True):
            outcome.instructions, outcome.instructions_error = value, error

    markdown = table(outcomes, bare_runs, bare_instructions)
    print(markdown)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(markdown + "\n")
    raw = {
        "openai": OPENAI_VERSION,
        "bare_runs": bare_runs,
        "bare_instructions": bare_instructions,
        "callgrind_seeds": args.seeds,
        "callgrind_layouts": args.layouts,
        "peers": [
            {
                "key": outcome.peer.key,
                "result": outcome.result,
                "error": outcome.error,
                "instructions": outcome.instructions,
                "instructions_error": outcome.instructions_error,
                "bare_neighbours": outcome.bare_neighbours,
            }
            for outcome in outcomes
        ],
    }
    out.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Benchmarks run with ``nox -s bench`` (pytest-benchmark). Each group pairs a baseline with synapsekit."""

from __future__ import annotations

import os
from typing import Any

import pytest

# Benchmarks measure production behaviour: internal errors are logged, not raised.
os.environ["SYNAPSEKIT_STRICT"] = "0"


def _is_baseline(name: str) -> bool:
    return "baseline" in name or "bare_sdk" in name


def _overhead_lines(benchmarks: list[Any]) -> list[str]:
    """Per group: the baseline's median, then each variant's median, difference (µs) and ratio."""
    groups: dict[str, list[Any]] = {}
    for bench in benchmarks:
        if bench.stats and bench.stats.rounds:
            groups.setdefault(bench.group or "(no group)", []).append(bench)
    lines: list[str] = []
    for group, members in sorted(groups.items()):
        baselines = [bench for bench in members if _is_baseline(bench.name)]
        if len(baselines) != 1:
            continue  # no baseline (or an ambiguous one) in this group: nothing to compare against
        base = baselines[0].stats.median
        lines.append(f"{group}: baseline {baselines[0].name} median {base * 1e6:.2f} µs")
        for bench in sorted(members, key=lambda bench: bench.name):
            if bench is baselines[0]:
                continue
            median = bench.stats.median
            ratio = median / base if base else float("inf")
            lines.append(
                f"    {bench.name:<55} median {median * 1e6:10.2f} µs"
                f"  diff {(median - base) * 1e6:+10.2f} µs  ratio {ratio:6.3f}"
            )
    return lines


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    lines = _overhead_lines(list(session.benchmarks))
    if lines:
        terminalreporter.write_sep("-", "overhead against each group's baseline (medians, same run)")
        for line in lines:
            terminalreporter.write_line(line)

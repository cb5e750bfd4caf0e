"""The callgrind harness's environment (``bench/callgrind/_callgrind.py``): what a measured process is given.

Its counts are only comparable when the measured process starts from the same state every time: the same
environment, and the same bytecode caches (a process that compiles a module at start-up lays its heap out
differently from one that finds the module compiled).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "bench" / "callgrind" / "_callgrind.py"


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_callgrind_under_test", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_environment_leaves_out_the_shells_state_and_the_bytecode_switch(harness: ModuleType) -> None:
    env = {
        "PWD": "/somewhere",
        "OLDPWD": "/elsewhere",
        "_": "/usr/bin/env",
        "SHLVL": "2",
        "COLUMNS": "80",
        "LINES": "24",
        "PYTHONDONTWRITEBYTECODE": "1",
        "SYNAPSEKIT_BENCH_LAYOUT": "stale",
        "ZED": "z",
        "PATH": "/usr/bin",
    }

    fixed = harness._deterministic(env, 3, 2)

    assert fixed == {
        "PATH": "/usr/bin",
        "PYTHONHASHSEED": "3",
        "SYNAPSEKIT_BENCH_LAYOUT": "x" * 35,
        "ZED": "z",
    }
    assert list(fixed) == sorted(fixed)  # passed in one order, whatever order the caller's had
    assert "SYNAPSEKIT_BENCH_LAYOUT" not in harness._deterministic(env, 0, 0)


def _program(tmp_path: Path, body: str) -> tuple[list[str], dict[str, str]]:
    (tmp_path / "imported.py").write_text("VALUE = 42\n")
    script = tmp_path / "main.py"
    script.write_text(f"import imported\n{body}\n")
    # What a shell that forbids bytecode caches passes on.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    return [sys.executable, str(script)], env


def test_compile_first_writes_the_bytecode_caches_a_measured_run_will_read(
    harness: ModuleType, tmp_path: Path
) -> None:
    command, env = _program(tmp_path, "assert imported.VALUE == 42")
    cache = Path(importlib.util.cache_from_source(str(tmp_path / "imported.py")))
    assert not cache.exists()

    harness.compile_first(command, env=env, cwd=str(tmp_path))

    assert cache.is_file()


def test_compile_first_reports_a_command_that_fails(harness: ModuleType, tmp_path: Path) -> None:
    command, env = _program(tmp_path, "raise SystemExit('the scenario is broken')")

    with pytest.raises(harness.CallgrindError) as raised:
        harness.compile_first(command, env=env, cwd=str(tmp_path))

    assert str(raised.value) == "exit 1 before measuring: the scenario is broken"


def test_compile_first_gives_up_after_its_timeout(harness: ModuleType, tmp_path: Path) -> None:
    command, env = _program(tmp_path, "import time; time.sleep(30)")

    with pytest.raises(harness.CallgrindError) as raised:
        harness.compile_first(command, env=env, cwd=str(tmp_path), timeout_s=0.5)

    assert str(raised.value) == "timed out after 0.5 s before measuring"

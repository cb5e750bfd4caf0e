"""What ``synapsekit.instrument()`` costs: with openai already imported, and before openai is imported.

Instrumenting happens once per process, so every round is a fresh interpreter. The child times only the
step being measured and prints the figure; the benchmark's timer is the sum of those figures
(:class:`ChildClock`), so interpreter start-up and the imports that come before the step are not counted. The
figure is CPU time (``time.process_time``), the process's own work: on a shared machine wall-clock time also
counts the waits for a core. Bytecode caching is on in the children (``PYTHONPYCACHEPREFIX`` in a temporary directory,
filled by the warm-up round), as it is in a deployed application.

Groups, each with its baseline in the same run:

- ``instrument/openai-imported``: ``instrument()`` with openai imported, against doing nothing (the floor) and
  against importing the three resource modules instrumenting at the resource methods had to import (with
  their dependencies, what ``import openai`` leaves unloaded);
- ``instrument/before-import``: ``import openai`` bare (the baseline), against ``instrument()`` followed by
  ``import openai`` (the post-import hook patches it then), and ``instrument()`` alone before openai is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

ROUNDS: Final = 15

_CHILD: Final = """
import sys, time
{setup}
started = time.process_time()
{step}
elapsed = time.process_time() - started
{check}
print(repr(elapsed))
"""
_INSTRUMENTED = "synapsekit.instrument()"
_PATCHED = (
    "from synapsekit.plugin import is_synapsekit_wrapper\n"
    "import openai._base_client as base\n"
    "assert is_synapsekit_wrapper(vars(base.SyncAPIClient)['request'])"
)


_RESOURCE_MODULES = (
    "import openai.resources.chat.completions.completions, openai.resources.responses.responses, "
    "openai.resources.embeddings"
)


class ChildClock:
    """The benchmark's timer: the seconds the children reported, added up."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def __call__(self) -> float:
        return self.elapsed


CLOCK: Final = ChildClock()


@pytest.fixture(scope="module")
def child_env() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="synapsekit-bench-pyc-") as cache:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        yield env


def run_child(env: dict[str, str], setup: str, step: str, check: str = "") -> None:
    script = _CHILD.format(setup=setup, step=step, check=check)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    CLOCK.elapsed += float(done.stdout.strip().splitlines()[-1])


def measure(benchmark: Any, env: dict[str, str], setup: str, step: str, check: str = "") -> None:
    benchmark.pedantic(run_child, args=(env, setup, step, check), rounds=ROUNDS, warmup_rounds=1)


# -- openai already imported -------------------------------------------------------------------------------------
@pytest.mark.benchmark(group="instrument/openai-imported", timer=CLOCK)
def test_baseline_nothing(benchmark: Any, child_env: dict[str, str]) -> None:
    measure(benchmark, child_env, "import openai, synapsekit", "pass")


@pytest.mark.benchmark(group="instrument/openai-imported", timer=CLOCK)
def test_instrument_with_openai_imported(benchmark: Any, child_env: dict[str, str]) -> None:
    measure(
        benchmark,
        child_env,
        "import openai, synapsekit\nloaded = set(sys.modules)",
        _INSTRUMENTED,
        f"{_PATCHED}\nassert not [m for m in set(sys.modules) - loaded if m.startswith('openai')]",
    )


@pytest.mark.benchmark(group="instrument/openai-imported", timer=CLOCK)
def test_import_the_resource_modules_for_reference(benchmark: Any, child_env: dict[str, str]) -> None:
    measure(benchmark, child_env, "import openai, synapsekit", _RESOURCE_MODULES)


# -- instrumenting before openai is imported --------------------------------------------------------------------
@pytest.mark.benchmark(group="instrument/before-import", timer=CLOCK)
def test_baseline_import_openai(benchmark: Any, child_env: dict[str, str]) -> None:
    measure(benchmark, child_env, "import synapsekit", "import openai")


@pytest.mark.benchmark(group="instrument/before-import", timer=CLOCK)
def test_instrument_then_import_openai(benchmark: Any, child_env: dict[str, str]) -> None:
    # Both timed: instrument() loads what openai's import would load anyway (importlib.metadata, ...), so
    # only the two together compare with the bare import; the post-import hook patches at the import.
    measure(benchmark, child_env, "import synapsekit", f"{_INSTRUMENTED}\nimport openai", _PATCHED)


@pytest.mark.benchmark(group="instrument/before-import", timer=CLOCK)
def test_instrument_before_openai_is_imported(benchmark: Any, child_env: dict[str, str]) -> None:
    measure(
        benchmark,
        child_env,
        "import synapsekit",
        _INSTRUMENTED,
        "assert 'openai' not in sys.modules and 'anthropic' not in sys.modules",
    )

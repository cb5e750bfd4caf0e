"""Run a Python command under ``valgrind --tool=callgrind`` and read instruction counts per phase.

The measured program separates its phases with :func:`os.getppid` calls, and callgrind is started with
``--dump-before=getppid``: each call writes the counters gathered since the previous one to a new file and
resets them. Phase ``i`` (between marker ``i`` and ``i + 1``) is then exactly the instructions of that
stretch of code: interpreter start-up, imports and warm-up fall into phase 0 and cancel out, which is the
"(N + M iterations) - (N iterations)" difference taken inside a single process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

MARKER_FUNCTION = "getppid"
_TOTALS = re.compile(rb"^totals:\s+(\d+)", re.MULTILINE)
_PART = re.compile(rb"^part:\s+(\d+)", re.MULTILINE)


class CallgrindError(RuntimeError):
    pass


def valgrind() -> str:
    path = shutil.which("valgrind")
    if path is None:
        raise CallgrindError("valgrind is not installed (Debian: apt-get install -y valgrind)")
    return path


def checked_python(python: str) -> str:
    """``python`` itself when it is a binary (or a venv's symlink to one, which keeps the venv).

    A shim script (pyenv's) would be what valgrind measures, not the interpreter it starts.
    """
    with open(os.path.realpath(python), "rb") as binary:
        if binary.read(2) == b"#!":
            raise CallgrindError(f"{python} is a script, not an interpreter: pass a venv's bin/python")
    return python


LAYOUT_VARIABLE = "SYNAPSEKIT_BENCH_LAYOUT"


def layout_padding(layout: int) -> str | None:
    """The value of :data:`LAYOUT_VARIABLE` for ``layout`` (none for layout 0).

    Python copies the environment into ``os.environ`` at start-up, before it loads most modules: one more
    variable is a string and a bytes object allocated early, whose lengths decide which of the allocator's
    size classes they take a slot in. Every object allocated after them in those classes (names among
    them) then sits somewhere else, as happens when the checkout's path is a few characters longer. At
    3.11 that alone moves a 50-chunk stream's overhead by a few hundred thousand instructions: the
    interpreter's cache of type attribute lookups is indexed by the name's address, so where names sit
    decides which lookups collide. Lengths 16·k + 3 put the two objects in different size classes from one
    layout to the next.
    """
    return None if layout == 0 else "x" * (16 * layout + 3)


# Variables a shell changes from one command to the next: the working directory and the previous one, the last
# command run, the nesting depth, the terminal's size. The measured process copies its environment into
# ``os.environ`` at start-up, so each of these would lay its heap out differently from one invocation of the
# harness to the next (as a layout does: see layout_padding), and the same run would not count the same twice:
# by tens of thousands of instructions per stream. Left out, and the rest passed in one (sorted) order.
_SHELL_STATE = frozenset({"PWD", "OLDPWD", "_", "SHLVL", "COLUMNS", "LINES"})
# Whether Python may write bytecode caches: a measured process that finds a module without one compiles it
# at start-up, and those allocations lay the heap out differently from a run that found it. On a fresh tree
# the first invocation compiled, the next ones did not: the same stream, seed and layout counted 157,000 a
# stream apart. So the measured processes always may write them, and compile_first() has them written
# before anything is counted, whatever the caller's shell says.
_BYTECODE_SWITCH = "PYTHONDONTWRITEBYTECODE"


def _deterministic(env: Mapping[str, str] | None, hash_seed: int, layout: int) -> dict[str, str]:
    """``env`` (default: ours) with a fixed string-hash seed and the padding of ``layout``.

    With the default random seed every process lays its dicts and sets out differently, which moves a
    count by a few thousand instructions per operation from one run to the next; with a fixed seed
    repeated runs agree to within a few dozen. A different fixed seed, or another layout of the heap
    (:func:`layout_padding`), is a different layout: averaging several (``run.py --seeds --layouts``)
    keeps one layout's luck out of a comparison.
    """
    fixed = {
        name: value
        for name, value in (os.environ if env is None else env).items()
        if name not in _SHELL_STATE and name not in (LAYOUT_VARIABLE, _BYTECODE_SWITCH)
    }
    fixed["PYTHONHASHSEED"] = str(hash_seed)
    padding = layout_padding(layout)
    if padding is not None:
        fixed[LAYOUT_VARIABLE] = padding
    return dict(sorted(fixed.items()))


def _last_lines(stderr: bytes) -> str:
    """The end of a failed command's error output, on one line."""
    return " | ".join(stderr.decode(errors="replace").strip().splitlines()[-5:])


def compile_first(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout_s: float = 600,
) -> None:
    """Run ``command`` once natively, so that every module it imports has its bytecode cache written
    (where its directory is writable) before :func:`phase_instructions` counts the same command.

    Run in the environment the measured runs get (hash seed 0, layout 0): bytecode caches may be written
    there even when the caller's shell forbids it (see ``_BYTECODE_SWITCH``).
    """
    try:
        completed = subprocess.run(
            list(command),
            env=_deterministic(env, 0, 0),
            cwd=cwd,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CallgrindError(f"timed out after {timeout_s:g} s before measuring") from exc
    if completed.returncode != 0:
        raise CallgrindError(f"exit {completed.returncode} before measuring: {_last_lines(completed.stderr)}")


def phase_instructions(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout_s: float = 3600,
    hash_seed: int = 0,
    layout: int = 0,
) -> list[int]:
    """Instructions executed in each phase of ``command`` (the first element: a Python interpreter)."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as directory:
        out = Path(directory) / "callgrind.out"
        completed = subprocess.run(
            [
                valgrind(),
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                f"--dump-before={MARKER_FUNCTION}",
                checked_python(command[0]),
                *command[1:],
            ],
            env=_deterministic(env, hash_seed, layout),
            cwd=cwd,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
        if completed.returncode != 0:
            raise CallgrindError(f"exit {completed.returncode}: {_last_lines(completed.stderr)}")
        parts: dict[int, int] = {}
        for path in Path(directory).glob("callgrind.out*"):
            data = path.read_bytes()
            part, totals = _PART.search(data), _TOTALS.search(data)
            if part is None or totals is None:
                raise CallgrindError(f"unreadable callgrind output {path.name}")
            parts[int(part.group(1))] = int(totals.group(1))
    return [parts[index] for index in sorted(parts)]

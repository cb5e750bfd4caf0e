"""The command-line entry points: the demo, the report and synapsekit-instrument."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
    )


def test_demo_runs_offline_and_shows_everything() -> None:
    result = _run(str(BIN / "synapsekit"), "demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # Three RAG questions over the real openai SDK and the local server, priced as gpt-4o-mini.
    assert "3 LLM calls, 168 input + 36 output tokens, $0.000047; 1 rejected by a budget." in out
    assert "demo.session" in out
    assert "rag.aquery" in out
    assert "chat gpt-4o-mini" in out
    assert "│ openai   │ gpt-4o-mini │     3 │          168 │            36 │  $0.000047 │" in out
    assert "(requests sent: 0)" in out
    assert "circuit closed" in out
    assert 'synapsekit_cost_usd_total{model="gpt-4o-mini",provider="openai"} 4.68e-05' in out


def test_report_on_a_ledger_written_in_zero_code_mode(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.db"
    script = tmp_path / "app.py"
    script.write_text(
        "import asyncio\nfrom synapsekit import OfflineLLM\n"
        "asyncio.run(OfflineLLM().generate('one two three'))\n"
    )
    instrument = shutil.which("synapsekit-instrument", path=str(BIN))
    assert instrument is not None
    ran = _run(instrument, sys.executable, str(script), env={"SYNAPSEKIT_SPEND_LEDGER": str(ledger)})
    assert ran.returncode == 0, ran.stderr
    report = _run(str(BIN / "synapsekit"), "report", "--ledger", str(ledger))
    assert report.returncode == 0, report.stderr
    assert "synapsekit-offline" in report.stdout
    # 3 input tokens at $0.15/M + 12 output tokens at $0.60/M = $0.00000765, shown to the micro-dollar.
    assert "Spend $0.000008 over 1 call, 3 input + 12 output tokens" in report.stdout
    # The ledger as a positional argument reads the same file, as does giving it both ways.
    positional = _run(str(BIN / "synapsekit"), "report", str(ledger))
    assert (positional.returncode, positional.stdout) == (0, report.stdout)
    both = _run(str(BIN / "synapsekit"), "report", str(ledger), "--ledger", str(ledger))
    assert (both.returncode, both.stdout) == (0, report.stdout)


def test_report_refuses_two_different_ledgers(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    result = _run(str(BIN / "synapsekit"), "report", str(first), "--ledger", str(second))
    assert (result.returncode, result.stdout) == (2, "")
    assert (
        result.stderr == f"synapsekit report: two ledgers given ({first} and --ledger {second}); give one\n"
    )
    assert not first.exists() and not second.exists()


def test_report_rejects_bad_days_and_bad_files(tmp_path: Path) -> None:
    assert _run(str(BIN / "synapsekit"), "report", "--days", "0").returncode == 2
    bogus = tmp_path / "not-a-ledger.db"
    bogus.write_text("hello")
    result = _run(str(BIN / "synapsekit"), "report", "--ledger", str(bogus))
    assert result.returncode == 1
    assert "synapsekit report:" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "stream", "text"),
    [
        ((), 2, "stderr", "usage: synapsekit-instrument COMMAND"),
        (("--help",), 0, "stdout", "SYNAPSEKIT_BUDGET_USD"),
        (("no-such-command-xyz",), 127, "stderr", "command not found: no-such-command-xyz"),
    ],
)
def test_instrument_cli_usage(args: tuple[str, ...], code: int, stream: str, text: str) -> None:
    result = _run(str(BIN / "synapsekit-instrument"), *args)
    assert result.returncode == code
    assert text in getattr(result, stream)


def test_zero_code_configuration_error_does_not_stop_the_program(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text("print('still running')\n")
    result = _run(
        str(BIN / "synapsekit-instrument"),
        sys.executable,
        str(script),
        env={"SYNAPSEKIT_BUDGET_USD": "-5", "SYNAPSEKIT_STRICT": ""},
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "still running"
    assert "synapsekit-instrument: not instrumenting" in result.stderr

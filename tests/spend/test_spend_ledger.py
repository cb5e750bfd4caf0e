"""SpendLedger: one row per finished call in SQLite, batched, safe across threads, processes and restarts."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections.abc import AsyncGenerator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import synapsekit
from synapsekit import BudgetExceeded, LLMConfig, OfflineLLM, UnknownModelPriceWarning
from synapsekit._core import sinks as _sinks
from synapsekit._core.call import LLMCall
from synapsekit._core.scope import Scope
from synapsekit._llms.base import BaseLLM, Generation
from synapsekit._pricing.prices import clear_price_overrides
from synapsekit._spend.ledger import (
    LEDGER_ENV_VAR,
    SpendLedger,
    SpendLedgerError,
    default_ledger_path,
    ledger_from_env,
)

# OfflineLLM's made-up demo price: $0.15 / $0.60 per million input / output tokens.
PROMPT = "Explain RAG in one sentence."  # 5 input tokens; OfflineLLM answers 12 tokens
PROMPT_COST = Decimal("0.00000795")  # 5 * 0.15e-6 + 12 * 0.60e-6


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SpendLedger]:
    spend = SpendLedger(tmp_path / "spend.db")
    _sinks.add_sink(spend)
    yield spend
    spend.close()


def _rows(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("SELECT * FROM calls ORDER BY id")]


class _Reject(Scope):
    gates_calls = True

    def admit(self, call: LLMCall) -> None:
        raise BudgetExceeded("over budget", spent=1.0, limit=1.0)


class _Broken(BaseLLM):
    provider = "acme"

    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        raise ConnectionError("provider down")


async def test_each_finished_call_is_one_row_with_exact_values(ledger: SpendLedger) -> None:
    await OfflineLLM().generate(PROMPT)
    assert ledger.pending == 1
    assert ledger.flush() == 1
    assert ledger.pending == 0
    [row] = _rows(ledger.path)
    timestamp = row.pop("ts")
    assert timestamp.endswith("+00:00")
    assert row == {
        "id": 1,
        "provider": "synapsekit",
        "model": "synapsekit-offline",
        "operation": "chat",
        "input_tokens": 5,
        "output_tokens": 12,
        "cached_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": row["cost_usd"],
        "estimated": 0,
        "error_type": None,
        "rejected": 0,
    }
    assert Decimal(row["cost_usd"]) == PROMPT_COST


async def test_unknown_price_failed_rejected_and_estimated_calls(ledger: SpendLedger) -> None:
    clear_price_overrides()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        await OfflineLLM(LLMConfig(model="no-such-model")).generate(PROMPT)
        with pytest.raises(ConnectionError):
            await _Broken(LLMConfig(model="acme-1")).generate(PROMPT)
    with _Reject(), pytest.raises(BudgetExceeded):
        await OfflineLLM().generate(PROMPT)
    stream = OfflineLLM().stream(PROMPT)
    assert isinstance(stream, AsyncGenerator)
    await stream.__anext__()
    await stream.aclose()  # abandoned after one chunk: usage is estimated
    ledger.flush()
    unknown, failed, rejected, estimated = _rows(ledger.path)
    assert (unknown["model"], unknown["cost_usd"], unknown["input_tokens"]) == ("no-such-model", None, 5)
    assert (failed["provider"], failed["error_type"], failed["input_tokens"]) == (
        "acme",
        "ConnectionError",
        0,
    )
    assert (rejected["rejected"], rejected["error_type"], rejected["input_tokens"]) == (
        1,
        "BudgetExceeded",
        0,
    )
    assert (estimated["estimated"], estimated["error_type"]) == (1, None)


async def test_rows_wait_in_memory_until_flushed_and_detach_writes_them(tmp_path: Path) -> None:
    spend = SpendLedger(tmp_path / "spend.db", flush_interval=3600)
    spend.attach()
    spend.attach()  # idempotent
    try:
        for _ in range(3):
            await OfflineLLM().generate(PROMPT)
        assert _rows(spend.path) == []
    finally:
        spend.detach()
    assert len(_rows(spend.path)) == 3
    await OfflineLLM().generate(PROMPT)  # detached: not recorded
    spend.detach()
    assert len(_rows(spend.path)) == 3
    assert spend.pending == 0


async def test_instrument_attaches_and_uninstrument_detaches(tmp_path: Path) -> None:
    spend = SpendLedger(tmp_path / "spend.db", flush_interval=3600)
    synapsekit.instrument(sinks=(spend,))
    try:
        await OfflineLLM().generate(PROMPT)
    finally:
        synapsekit.uninstrument()
    await OfflineLLM().generate(PROMPT)
    assert len(_rows(spend.path)) == 1


def test_threads_writing_at_once_lose_no_rows(ledger: SpendLedger) -> None:
    def work() -> None:
        async def calls() -> None:
            llm = OfflineLLM()
            for _ in range(100):
                await llm.generate(PROMPT)

        asyncio.run(calls())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.flush()
    with sqlite3.connect(ledger.path) as connection:
        count, tokens = connection.execute("SELECT COUNT(*), SUM(input_tokens) FROM calls").fetchone()
    assert (count, tokens) == (800, 4000)


def test_processes_share_one_ledger_through_the_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    SpendLedger(path).close()  # created up front, as an operator would
    script = (
        "import asyncio, synapsekit\n"
        "from synapsekit._spend.ledger import ledger_from_env\n"
        "ledger = ledger_from_env()\n"
        "ledger.attach()\n"
        "async def main():\n"
        "    for _ in range(50):\n"
        "        await synapsekit.OfflineLLM().generate('one two three')\n"
        "asyncio.run(main())\n"
        # No flush and no detach: the exit hook writes what is queued.
    )
    env = {**os.environ, LEDGER_ENV_VAR: str(path)}
    workers = [subprocess.Popen([sys.executable, "-c", script], env=env) for _ in range(3)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0]
    with sqlite3.connect(path) as connection:
        count, tokens = connection.execute("SELECT COUNT(*), SUM(input_tokens) FROM calls").fetchone()
    assert (count, tokens) == (150, 450)


async def test_reopening_after_a_restart_appends(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dirs" / "spend.db"
    with SpendLedger(path):
        await OfflineLLM().generate(PROMPT)
    with SpendLedger(path) as reopened:
        await OfflineLLM().generate(PROMPT)
        await OfflineLLM().generate(PROMPT)
    assert [row["id"] for row in _rows(path)] == [1, 2, 3]
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA user_version").fetchone() == (1,)
    assert repr(reopened) == f"SpendLedger({str(path)!r}, attached=False)"


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    path.write_bytes(b"this is not sqlite, just some text that happens to be here" * 20)
    with pytest.raises(
        SpendLedgerError, match=r"spend\.db: cannot read the spend ledger: file is not a database"
    ):
        SpendLedger(path)


def test_another_applications_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(SpendLedgerError, match=r"other tables \(users\), not a synapsekit spend ledger"):
        SpendLedger(path)
    with sqlite3.connect(path) as connection:
        names = [name for (name,) in connection.execute("SELECT name FROM sqlite_master")]
    assert names == ["users"]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(SpendLedgerError, match="schema version 99 is newer than this synapsekit supports"):
        SpendLedger(path)


def test_flush_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_interval must be > 0"):
        SpendLedger(tmp_path / "spend.db", flush_interval=0)


def test_ledger_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(LEDGER_ENV_VAR, raising=False)
    assert ledger_from_env() is None
    monkeypatch.setenv(LEDGER_ENV_VAR, "  ")
    assert ledger_from_env() is None
    monkeypatch.setenv(LEDGER_ENV_VAR, str(tmp_path / "env.db"))
    spend = ledger_from_env()
    assert spend is not None
    assert spend.path == tmp_path / "env.db"
    assert (tmp_path / "env.db").is_file()
    spend.close()


def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_ledger_path() == tmp_path / "data" / "synapsekit" / "spend.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_ledger_path() == tmp_path / "home" / ".local" / "share" / "synapsekit" / "spend.db"

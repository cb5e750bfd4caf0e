"""Several processes share one budget through SQLite or Redis; a killed process loses no spend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from synapsekit._budget.ledger import Account, Ledger, Totals
from synapsekit._budget.redis_ledger import RedisLedger
from synapsekit._budget.sqlite_ledger import SQLiteLedger
from synapsekit.testing import LLMTestServer

from ._support import nano

TESTS_DIR = Path(__file__).resolve().parent.parent
CALL = nano(3, 5)


def _worker(options: dict[str, Any]) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])),
    }
    env.pop("SYNAPSEKIT_BUDGET_LEDGER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "budget._worker", json.dumps(options)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ledger_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    redis_url: str = request.getfixturevalue("redis_url")
    return redis_url


def _open(url: str, *, clock_offset: float = 0.0) -> Ledger:
    def clock() -> float:
        return time.time() + clock_offset

    if url.startswith("sqlite"):
        return SQLiteLedger(url.removeprefix("sqlite:///"), clock=clock)
    return RedisLedger.from_url(url, clock=clock)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_four_processes_share_one_budget_exactly(
    kind: str, tmp_path: Path, server: LLMTestServer, request: pytest.FixtureRequest
) -> None:
    url = _ledger_url(kind, tmp_path, request)
    key = f"shared-{uuid.uuid4().hex}"
    fitting = 30
    options = {"ledger": url, "key": key, "limit_nano": fitting * CALL, "base_url": server.openai_base_url}
    workers = [_worker({**options, "calls": 25}) for _ in range(4)]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(report["answered"] for report in reports) == fitting
    assert sum(report["refused"] for report in reports) == 100 - fitting
    assert server.request_count == fitting
    ledger = _open(url)
    assert ledger.totals(Account(key, "session")) == Totals(fitting * CALL, 0, fitting * 8, 0)
    ledger.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_killed_process_loses_no_spend(
    kind: str, tmp_path: Path, server: LLMTestServer, request: pytest.FixtureRequest
) -> None:
    url = _ledger_url(kind, tmp_path, request)
    key = f"crash-{uuid.uuid4().hex}"
    account = Account(key, "session")
    options = {"ledger": url, "key": key, "limit_nano": 10**12, "base_url": server.openai_base_url}
    victim = _worker({**options, "forever": True})
    assert victim.stdout is not None
    assert victim.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 60
    while server.request_count < 5:
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    requests_before_restart = server.request_count

    # Everything the killed process sent is in the ledger: settled, or still reserved at its worst case
    # (which here equals its cost). At most one admitted call had not reached the server yet.
    ledger = _open(url)
    totals = ledger.totals(account)
    assert totals.spent_nano + totals.reserved_nano in (
        requests_before_restart * CALL,
        (requests_before_restart + 1) * CALL,
    )
    assert totals.reserved_nano in (0, CALL)
    orphaned = totals.reserved_nano

    # A restarted process carries on from the same spend.
    restarted = _worker({**options, "calls": 3})
    out, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"answered": 3, "refused": 0}
    after = ledger.totals(account)
    assert (after.spent_nano, after.reserved_nano) == (totals.spent_nano + 3 * CALL, orphaned)

    # Once the orphaned reservation expires it is charged, not forgotten.
    later = _open(url, clock_offset=3600)
    final = later.totals(account)
    assert (final.spent_nano, final.reserved_nano) == (totals.spent_nano + 3 * CALL + orphaned, 0)
    ledger.close()
    later.close()

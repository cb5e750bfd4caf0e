"""The SQLite ledger's database is put in WAL mode once, and a switch another connection refuses is retried.

Two processes opening a new ledger together both try the switch; SQLite may refuse one of them at once while
the other uses the file. A database already in WAL mode (the mode is stored in the file) is not switched again.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from synapsekit._budget.sqlite_ledger import SQLiteLedger, _use_wal


def statements_of(connection: sqlite3.Connection) -> list[str]:
    executed: list[str] = []
    connection.set_trace_callback(executed.append)
    return executed


def test_a_new_database_is_switched_to_wal(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    executed = statements_of(connection)
    _use_wal(connection, 1.0)
    assert executed == ["PRAGMA journal_mode", "PRAGMA journal_mode=WAL"]
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_database_already_in_wal_mode_is_not_switched_again(tmp_path: Path) -> None:
    SQLiteLedger(str(tmp_path / "ledger.db")).close()  # leaves the file in WAL mode
    writer = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process writing meanwhile
    connection = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    executed = statements_of(connection)
    _use_wal(connection, 1.0)
    assert executed == ["PRAGMA journal_mode"]
    writer.execute("ROLLBACK")


def test_a_refused_switch_is_tried_again_until_the_other_connection_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN EXCLUSIVE")  # the file to itself, in rollback-journal mode
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    # Each attempt waits only 0.02 s for the lock (the connection's own busy timeout) and is refused; the
    # switch is tried again until the ledger's busy timeout (2 s) has passed.
    connection = sqlite3.connect(path, timeout=0.02, isolation_level=None)
    executed = statements_of(connection)
    _use_wal(connection, 2.0)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert executed.count("PRAGMA journal_mode=WAL") >= 1
    assert len(executed) > 2  # refused at least once, then tried again


def test_a_switch_refused_past_the_busy_timeout_raises(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN EXCLUSIVE")
    connection = sqlite3.connect(path, timeout=0.02, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            _use_wal(connection, 0.1)
    finally:
        other.execute("ROLLBACK")

"""``SQLiteLedger``: one budget ledger in a file, shared by the processes of one host.

WAL journal, and every operation is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before the
totals are read), so concurrent processes never lose an update and a crash leaves the last committed state.
Waiting for another process's lock is bounded by ``busy_timeout_s``; past it the operation fails with
:class:`~synapsekit._budget.ledger.LedgerError` and the budget's ``on_ledger_error`` policy applies.

URLs follow the SQLAlchemy convention: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from synapsekit._budget.ledger import (
    Account,
    LedgerError,
    Limits,
    Reservation,
    ReserveItem,
    ReserveOutcome,
    SettleItem,
    Totals,
)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS synapsekit_budget_accounts (
        key TEXT NOT NULL, bucket TEXT NOT NULL,
        spent_nano INTEGER NOT NULL DEFAULT 0, spent_tokens INTEGER NOT NULL DEFAULT 0,
        retain_until REAL, PRIMARY KEY (key, bucket))""",
    """CREATE TABLE IF NOT EXISTS synapsekit_budget_reservations (
        id TEXT NOT NULL PRIMARY KEY, key TEXT NOT NULL, bucket TEXT NOT NULL,
        nano INTEGER NOT NULL, tokens INTEGER NOT NULL, expires_at REAL NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS synapsekit_budget_reservations_account
        ON synapsekit_budget_reservations (key, bucket, expires_at)""",
)
# Old windows are swept at most this often per process.
_PRUNE_INTERVAL_S = 300.0


class SQLiteLedger:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = os.fspath(path)
        self._busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._next_prune = 0.0
        with self._transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @classmethod
    def from_url(cls, url: str) -> SQLiteLedger:
        path = url.removeprefix("sqlite://")
        if not path.startswith("/") or len(path) < 2:
            raise ValueError(f"a SQLite ledger URL looks like sqlite:///path/to/file.db, got {url!r}")
        return cls(path[1:])

    # -- the ledger operations ---------------------------------------------------------------------------
    def reserve(
        self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
    ) -> ReserveOutcome:
        with self._transaction() as db:
            now = self._clock()
            self._prune(db, now)
            return self._reserve(db, account, reservation, limits, force, now)

    def reserve_many(self, items: Sequence[ReserveItem]) -> list[ReserveOutcome]:
        # One BEGIN IMMEDIATE for the whole batch: no other process sees part of it reserved. A refused
        # batch rolls back to the savepoint, so nothing of it stays, within the same transaction.
        with self._transaction() as db:
            now = self._clock()
            self._prune(db, now)
            db.execute("SAVEPOINT synapsekit_reserve_many")
            outcomes = [
                self._reserve(db, account, reservation, limits, force, now)
                for account, reservation, limits, force in items
            ]
            if not all(outcome.admitted for outcome in outcomes):
                db.execute("ROLLBACK TO synapsekit_reserve_many")
                outcomes = [
                    ReserveOutcome(outcome.admitted, self._totals(db, item.account))
                    for outcome, item in zip(outcomes, items, strict=True)
                ]
            db.execute("RELEASE synapsekit_reserve_many")
            return outcomes

    def _reserve(
        self,
        db: sqlite3.Connection,
        account: Account,
        reservation: Reservation,
        limits: Limits,
        force: bool,
        now: float,
    ) -> ReserveOutcome:
        """Inside a transaction."""
        self._charge_expired(db, account, now)
        totals = self._totals(db, account)
        if not force and not limits.admits(totals, reservation.nano, reservation.tokens):
            return ReserveOutcome(False, totals)
        db.execute(
            """INSERT INTO synapsekit_budget_reservations (id, key, bucket, nano, tokens, expires_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET nano = nano + excluded.nano,
                   tokens = tokens + excluded.tokens, expires_at = excluded.expires_at""",
            (
                reservation.id,
                account.key,
                account.bucket,
                reservation.nano,
                reservation.tokens,
                reservation.expires_at,
            ),
        )
        return ReserveOutcome(True, self._totals(db, account))

    def settle(
        self,
        account: Account,
        reservation_id: str,
        *,
        nano: int,
        tokens: int,
        reserved_nano: int,
        reserved_tokens: int,
    ) -> Totals:
        with self._transaction() as db:
            return self._settle(db, account, reservation_id, nano, tokens, reserved_nano, reserved_tokens)

    def settle_many(self, items: Sequence[SettleItem]) -> list[Totals]:
        with self._transaction() as db:
            return [self._settle(db, *item) for item in items]

    def _settle(
        self,
        db: sqlite3.Connection,
        account: Account,
        reservation_id: str,
        nano: int,
        tokens: int,
        reserved_nano: int,
        reserved_tokens: int,
    ) -> Totals:
        """Inside a transaction."""
        self._ensure_account(db, account)
        deleted = db.execute(
            "DELETE FROM synapsekit_budget_reservations WHERE id = ?", (reservation_id,)
        ).rowcount
        if deleted:
            delta_nano, delta_tokens = nano, tokens
        else:
            # Expired and already charged at its reserved amount: apply only the difference.
            delta_nano, delta_tokens = nano - reserved_nano, tokens - reserved_tokens
        db.execute(
            """UPDATE synapsekit_budget_accounts
               SET spent_nano = MAX(0, spent_nano + ?), spent_tokens = MAX(0, spent_tokens + ?)
               WHERE key = ? AND bucket = ?""",
            (delta_nano, delta_tokens, account.key, account.bucket),
        )
        return self._totals(db, account)

    def totals(self, account: Account) -> Totals:
        with self._transaction() as db:
            self._charge_expired(db, account, self._clock())
            return self._totals(db, account)

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            # Closing another thread's connection may fail; the process is letting go of it anyway.
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    # -- helpers -----------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LedgerError(f"SQLite budget ledger {self.path!r} unavailable: {exc}") from exc
        try:
            yield db
        except (sqlite3.Error, OverflowError) as exc:
            # OverflowError: an amount beyond SQLite's 64-bit integers; the transaction changed nothing.
            db.execute("ROLLBACK")
            raise LedgerError(f"SQLite budget ledger {self.path!r} failed: {exc}") from exc
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(f"SQLite budget ledger {self.path!r} failed to commit: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: sqlite3 objects must not cross either.
        pid = os.getpid()
        cached: tuple[int, sqlite3.Connection] | None = getattr(self._local, "connection", None)
        if cached is not None and cached[0] == pid:
            return cached[1]
        connection = sqlite3.connect(
            self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        _use_wal(connection, self._busy_timeout_s)
        # WAL + NORMAL: a process crash loses nothing committed; only a power loss may drop the last commits.
        connection.execute("PRAGMA synchronous=NORMAL")
        self._local.connection = (pid, connection)
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    @staticmethod
    def _ensure_account(db: sqlite3.Connection, account: Account) -> None:
        db.execute(
            """INSERT INTO synapsekit_budget_accounts (key, bucket, retain_until) VALUES (?, ?, ?)
               ON CONFLICT (key, bucket) DO NOTHING""",
            (account.key, account.bucket, account.retain_until),
        )

    def _charge_expired(self, db: sqlite3.Connection, account: Account, now: float) -> None:
        self._ensure_account(db, account)
        nano, tokens = db.execute(
            """SELECT COALESCE(SUM(nano), 0), COALESCE(SUM(tokens), 0) FROM synapsekit_budget_reservations
               WHERE key = ? AND bucket = ? AND expires_at <= ?""",
            (account.key, account.bucket, now),
        ).fetchone()
        if not nano and not tokens:
            return
        db.execute(
            "DELETE FROM synapsekit_budget_reservations WHERE key = ? AND bucket = ? AND expires_at <= ?",
            (account.key, account.bucket, now),
        )
        db.execute(
            """UPDATE synapsekit_budget_accounts
               SET spent_nano = spent_nano + ?, spent_tokens = spent_tokens + ?
               WHERE key = ? AND bucket = ?""",
            (nano, tokens, account.key, account.bucket),
        )

    @staticmethod
    def _totals(db: sqlite3.Connection, account: Account) -> Totals:
        row = db.execute(
            """SELECT a.spent_nano, a.spent_tokens,
                      (SELECT COALESCE(SUM(nano), 0) FROM synapsekit_budget_reservations r
                        WHERE r.key = a.key AND r.bucket = a.bucket),
                      (SELECT COALESCE(SUM(tokens), 0) FROM synapsekit_budget_reservations r
                        WHERE r.key = a.key AND r.bucket = a.bucket)
               FROM synapsekit_budget_accounts a WHERE a.key = ? AND a.bucket = ?""",
            (account.key, account.bucket),
        ).fetchone()
        if row is None:
            return Totals()
        spent_nano, spent_tokens, reserved_nano, reserved_tokens = row
        return Totals(int(spent_nano), int(reserved_nano), int(spent_tokens), int(reserved_tokens))

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_INTERVAL_S
        db.execute(
            """DELETE FROM synapsekit_budget_accounts
               WHERE retain_until IS NOT NULL AND retain_until < ?
                 AND NOT EXISTS (SELECT 1 FROM synapsekit_budget_reservations r
                                 WHERE r.key = synapsekit_budget_accounts.key
                                   AND r.bucket = synapsekit_budget_accounts.bucket)""",
            (now,),
        )

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"


def _use_wal(connection: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Put the database in WAL mode, which it then keeps for good (the mode is stored in the file).

    Only a database not yet in WAL mode is switched: switching needs the database to itself, and SQLite may
    refuse it at once ("database is locked", without waiting out the busy timeout) while another process
    is using the file — two processes opening a new ledger together. A refused switch is tried again until
    the busy timeout has passed.
    """
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            # Reading the mode waits for a shared lock, which a writer in rollback-journal mode may refuse too.
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() == "wal":
                return
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)

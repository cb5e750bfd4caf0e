"""Ledgers: where a budget's spend and in-flight reservations are kept.

A ledger holds, per *account* (a budget key and a window bucket), the settled spend and the reservations of
calls in flight, in integer nano-dollars and tokens. Three operations, each atomic:

* :meth:`Ledger.reserve` — admit a reservation if ``spent + reserved + amount`` stays within the limits (or
  unconditionally with ``force``, for ``"warn"`` budgets). Reserving again under an existing id grows that
  reservation (a stream that outruns its first estimate).
* :meth:`Ledger.settle` — replace a reservation by what the call really cost (0 releases it). If the
  reservation is gone because it expired, its worst case was already charged, and the difference is applied.
* :meth:`Ledger.totals` — read the account.

Reservations carry an expiry: the reservation of a process that crashed mid-call is charged at its
reserved amount when it expires — the request may have been billed, and a budget must never under-count.

Implementations: :class:`MemoryLedger` (this process), :class:`~synapsekit._budget.sqlite_ledger.SQLiteLedger`
(one host, survives restarts), :class:`~synapsekit._budget.redis_ledger.RedisLedger` (many processes and hosts).
``SYNAPSEKIT_BUDGET_LEDGER`` picks the default: ``memory``, ``sqlite:///path/to/file.db`` or
``redis://host:port/db``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, NamedTuple, Protocol, runtime_checkable

LEDGER_ENV_VAR: Final = "SYNAPSEKIT_BUDGET_LEDGER"


class LedgerError(Exception):
    """The ledger could not be reached or answered nonsense; the budget's ``on_ledger_error`` decides."""


@dataclass(frozen=True, slots=True)
class Account:
    """One budget's spend in one window bucket. ``retain_until``: epoch seconds after which it may go."""

    key: str
    bucket: str
    retain_until: float | None = None


# The records built on every admission and settlement are NamedTuples: immutable like frozen dataclasses,
# built in a fraction of the time (a frozen dataclass sets each field through object.__setattr__).


class Totals(NamedTuple):
    """A window's ledger totals, in nano-dollars and tokens."""

    spent_nano: int = 0
    reserved_nano: int = 0
    spent_tokens: int = 0
    reserved_tokens: int = 0


class Reservation(NamedTuple):
    """What one call asks to set aside. ``expires_at`` is epoch seconds."""

    id: str
    nano: int
    tokens: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class Limits:
    nano: int | None
    tokens: int | None

    def admits(self, totals: Totals, nano: int, tokens: int) -> bool:
        if self.nano is not None and totals.spent_nano + totals.reserved_nano + nano > self.nano:
            return False
        return self.tokens is None or totals.spent_tokens + totals.reserved_tokens + tokens <= self.tokens


class ReserveOutcome(NamedTuple):
    """``totals`` are after the reservation when admitted, else as they were when it was refused."""

    admitted: bool
    totals: Totals


@runtime_checkable
class Ledger(Protocol):
    def reserve(
        self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
    ) -> ReserveOutcome: ...

    def settle(
        self,
        account: Account,
        reservation_id: str,
        *,
        nano: int,
        tokens: int,
        reserved_nano: int,
        reserved_tokens: int,
    ) -> Totals: ...

    def totals(self, account: Account) -> Totals: ...

    def close(self) -> None: ...


@dataclass
class _Entry:
    spent_nano: int = 0
    reserved_nano: int = 0
    spent_tokens: int = 0
    reserved_tokens: int = 0
    retain_until: float | None = None
    reservations: dict[str, tuple[int, int]] = field(default_factory=dict)

    def totals(self) -> Totals:
        return Totals(self.spent_nano, self.reserved_nano, self.spent_tokens, self.reserved_tokens)


class MemoryLedger:
    """This process only, guarded by a lock. Reservations cannot be orphaned by a crash here, so they
    never expire; finished windows are dropped once past their retention time.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._clock = clock
        self._next_prune = 0.0

    def reserve(
        self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
    ) -> ReserveOutcome:
        nano, tokens = reservation.nano, reservation.tokens
        with self._lock:
            entry = self._entry(account)
            # The totals as they would be with this reservation: one object for the check and the answer.
            after = Totals(
                entry.spent_nano,
                entry.reserved_nano + nano,
                entry.spent_tokens,
                entry.reserved_tokens + tokens,
            )
            if not force and not limits.admits(after, 0, 0):
                return ReserveOutcome(False, entry.totals())
            held = entry.reservations.get(reservation.id)
            entry.reservations[reservation.id] = (
                (nano, tokens) if held is None else (held[0] + nano, held[1] + tokens)
            )
            entry.reserved_nano += nano
            entry.reserved_tokens += tokens
            return ReserveOutcome(True, after)

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
        with self._lock:
            entry = self._entry(account)
            held = entry.reservations.pop(reservation_id, None)
            if held is None:
                # Never reserved here (a fail-open admission): charge the difference, as other ledgers do.
                delta_nano, delta_tokens = nano - reserved_nano, tokens - reserved_tokens
            else:
                entry.reserved_nano -= held[0]
                entry.reserved_tokens -= held[1]
                delta_nano, delta_tokens = nano, tokens
            entry.spent_nano = max(0, entry.spent_nano + delta_nano)
            entry.spent_tokens = max(0, entry.spent_tokens + delta_tokens)
            return entry.totals()

    def totals(self, account: Account) -> Totals:
        with self._lock:
            entry = self._entries.get((account.key, account.bucket))
            return Totals() if entry is None else entry.totals()

    def close(self) -> None:
        """Nothing to release."""

    def _entry(self, account: Account) -> _Entry:
        """Caller holds the lock."""
        now = self._clock()
        if now >= self._next_prune:
            self._next_prune = now + 60.0
            for slot, old in list(self._entries.items()):
                if old.retain_until is not None and old.retain_until < now and not old.reservations:
                    del self._entries[slot]
        entry = self._entries.get((account.key, account.bucket))
        if entry is None:
            entry = self._entries[(account.key, account.bucket)] = _Entry(retain_until=account.retain_until)
        return entry


_shared_lock = threading.Lock()
_shared: dict[str, Ledger] = {}


def ledger_from_url(url: str) -> Ledger:
    """The process-wide ledger for ``memory``, ``sqlite:///path`` or ``redis://...`` (one per URL)."""
    url = url.strip()
    with _shared_lock:
        ledger = _shared.get(url)
        if ledger is None:
            ledger = _shared[url] = _open(url)
        return ledger


def default_ledger() -> Ledger | None:
    """The ledger named by ``SYNAPSEKIT_BUDGET_LEDGER``, or None when it is unset."""
    url = os.environ.get(LEDGER_ENV_VAR, "").strip()
    return ledger_from_url(url) if url else None


def close_shared_ledgers() -> None:
    """Close and forget the ledgers opened from URLs (tests; a forked child)."""
    with _shared_lock:
        ledgers = list(_shared.values())
        _shared.clear()
    for ledger in ledgers:
        ledger.close()


def _open(url: str) -> Ledger:
    if url == "memory":
        return MemoryLedger()
    if url.startswith("sqlite://"):
        from synapsekit._budget.sqlite_ledger import SQLiteLedger

        return SQLiteLedger.from_url(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from synapsekit._budget.redis_ledger import RedisLedger

        return RedisLedger.from_url(url)
    raise ValueError(
        f"unsupported budget ledger {url!r}: use 'memory', 'sqlite:///path/to/file.db' or 'redis://host:port/db'"
    )

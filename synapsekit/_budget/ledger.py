"""Ledgers: where a budget's spend and in-flight reservations are kept.

A ledger holds, per *account* (a budget key and a window bucket), the settled spend and the reservations of
calls in flight, in integer nano-dollars and tokens. Three operations, each atomic:

* :meth:`Ledger.reserve` — admit a reservation if ``spent + reserved + amount`` stays within the limits (or
  unconditionally with ``force``, for ``"warn"`` budgets). Reserving again under an existing id grows that
  reservation (a stream that outruns its first estimate).
* :meth:`Ledger.settle` — replace a reservation by what the call really cost (0 releases it). If the
  reservation is gone because it expired, its worst case was already charged, and the difference is applied.
* :meth:`Ledger.totals` — read the account.
* :meth:`Ledger.reserve_many` / :meth:`Ledger.settle_many` — the same for several accounts (the nested
  budgets one call is admitted against) in one atomic step: one lock, one SQLite transaction, one Redis
  script. ``reserve_many`` is all-or-nothing: the reservations are made only if every one of them is
  admitted, so a refusing inner budget never leaves the outer ones holding a reservation for a call that was
  not sent, and no other caller sees them held in between.

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
from collections.abc import Callable, Sequence
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


class ReserveItem(NamedTuple):
    """One account's part of a :meth:`Ledger.reserve_many`: ``force`` admits it whatever the limits."""

    account: Account
    reservation: Reservation
    limits: Limits
    force: bool


class SettleItem(NamedTuple):
    """One account's part of a :meth:`Ledger.settle_many` (the arguments of :meth:`Ledger.settle`)."""

    account: Account
    reservation_id: str
    nano: int
    tokens: int
    reserved_nano: int
    reserved_tokens: int


# Built on every admission and settlement: tuple.__new__ is called from C, where a NamedTuple's own
# __new__ is a Python function call (about 1,500 instructions each, per budget per call).
_new_tuple = tuple.__new__


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

    def reserve_many(self, items: Sequence[ReserveItem]) -> list[ReserveOutcome]:
        """Reserve every item, atomically and all-or-nothing, in one ledger operation.

        The outcomes are in the order of ``items``; an item is ``admitted`` when it fits (or is forced)
        given the items before it. The reservations are made only when every item is admitted; otherwise
        none is, and the totals are as they were when the batch was refused. Several items may name the
        same account: each is checked with the ones before it counted.
        """
        ...

    def settle_many(self, items: Sequence[SettleItem]) -> list[Totals]:
        """Settle every item (as :meth:`settle` does) in one ledger operation; totals in ``items`` order."""
        ...

    def close(self) -> None: ...


@dataclass
class _Entry:
    spent_nano: int = 0
    reserved_nano: int = 0
    spent_tokens: int = 0
    reserved_tokens: int = 0
    retain_until: float | None = None
    reservations: dict[str, tuple[int, int]] = field(default_factory=dict)
    # How many of ``reserved_*`` are reservations a budget made on the entry directly (MemoryLedger.entry)
    # without listing them: their amounts are in the budgets' holds, which settle them. Counted so that
    # the entry is not pruned while they are in flight.
    unlisted: int = 0
    # False once the ledger has dropped the entry (a finished window pruned, a forgotten budget): a budget
    # that kept a reference to it (see MemoryLedger.entry) must look its account up again.
    live: bool = True

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
        # Budgets forgotten while the lock was busy (see forget()); dropped at the next prune.
        self._forgotten: list[str] = []

    def entry(self, account: Account) -> _Entry:
        """The caller holds ``_lock``: ``account``'s entry, made if new.

        Budgets on this very class (not a subclass, whose overrides must see every operation) reserve and
        settle on the entry directly, under the lock, with the arithmetic of :meth:`reserve` and
        :meth:`settle`: they keep the entry of their current window and look it up again only when the
        window rolls over or the entry is no longer ``live``. Such a reservation is *unlisted*: added to the
        totals and counted in ``unlisted``, with no id in ``reservations``; before the ledger's own
        operations may see it (a stream growing it, a release), the budget lists it under an id.
        """
        slot = (account.key, account.bucket)
        entry = self._entries.get(slot)
        if entry is None:
            entry = self._entries[slot] = _Entry(retain_until=account.retain_until)
        return entry

    def reserve(
        self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
    ) -> ReserveOutcome:
        # The lone budget's operation, on every call: the entry lookup, the prune check and the limit check
        # are inlined (each a Python call otherwise) and the answer built in C.
        nano, tokens = reservation.nano, reservation.tokens
        with self._lock:
            now = self._clock()
            if now >= self._next_prune:
                self._prune(now)
            slot = (account.key, account.bucket)
            entry = self._entries.get(slot)
            if entry is None:
                entry = self._entries[slot] = _Entry(retain_until=account.retain_until)
            spent_nano, spent_tokens = entry.spent_nano, entry.spent_tokens
            reserved_nano, reserved_tokens = entry.reserved_nano + nano, entry.reserved_tokens + tokens
            if not force and (
                (limits.nano is not None and spent_nano + reserved_nano > limits.nano)
                or (limits.tokens is not None and spent_tokens + reserved_tokens > limits.tokens)
            ):
                return _new_tuple(ReserveOutcome, (False, entry.totals()))
            reservations = entry.reservations
            held = reservations.get(reservation.id)
            reservations[reservation.id] = (
                (nano, tokens) if held is None else (held[0] + nano, held[1] + tokens)
            )
            entry.reserved_nano = reserved_nano
            entry.reserved_tokens = reserved_tokens
            after = _new_tuple(Totals, (spent_nano, reserved_nano, spent_tokens, reserved_tokens))
            return _new_tuple(ReserveOutcome, (True, after))

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
            now = self._clock()
            if now >= self._next_prune:
                self._prune(now)
            slot = (account.key, account.bucket)
            entry = self._entries.get(slot)
            if entry is None:
                entry = self._entries[slot] = _Entry(retain_until=account.retain_until)
            held = entry.reservations.pop(reservation_id, None)
            if held is None:
                # Never reserved here (a fail-open admission): charge the difference, as other ledgers do.
                delta_nano, delta_tokens = nano - reserved_nano, tokens - reserved_tokens
            else:
                entry.reserved_nano -= held[0]
                entry.reserved_tokens -= held[1]
                delta_nano, delta_tokens = nano, tokens
            spent_nano = entry.spent_nano + delta_nano
            entry.spent_nano = spent_nano = spent_nano if spent_nano > 0 else 0
            spent_tokens = entry.spent_tokens + delta_tokens
            entry.spent_tokens = spent_tokens = spent_tokens if spent_tokens > 0 else 0
            return _new_tuple(Totals, (spent_nano, entry.reserved_nano, spent_tokens, entry.reserved_tokens))

    def totals(self, account: Account) -> Totals:
        with self._lock:
            entry = self._entries.get((account.key, account.bucket))
            return Totals() if entry is None else entry.totals()

    def reserve_many(self, items: Sequence[ReserveItem]) -> list[ReserveOutcome]:
        outcomes: list[ReserveOutcome] = []
        with self._lock:
            now = self._clock()
            if now >= self._next_prune:
                self._prune(now)
            entries = self._entries
            # What each applied item replaced (None: a new reservation id), to undo them on a refusal.
            replaced: list[tuple[int, int] | None] = []
            for account, reservation, limits, force in items:
                entry = entries.get((account.key, account.bucket))
                if entry is None:
                    entry = entries[(account.key, account.bucket)] = _Entry(retain_until=account.retain_until)
                reservation_id, nano, tokens, _ = reservation
                reserved_nano, reserved_tokens = entry.reserved_nano + nano, entry.reserved_tokens + tokens
                # Limits.admits, inlined: this runs once per budget in scope on every call.
                if not force and (
                    (limits.nano is not None and entry.spent_nano + reserved_nano > limits.nano)
                    or (limits.tokens is not None and entry.spent_tokens + reserved_tokens > limits.tokens)
                ):
                    self._undo(items, replaced)
                    return self._refused_outcomes(items)
                # Applied as we go, so that a later item on the same account sees this one.
                reservations = entry.reservations
                held = reservations.get(reservation_id)
                reservations[reservation_id] = (
                    (nano, tokens) if held is None else (held[0] + nano, held[1] + tokens)
                )
                entry.reserved_nano = reserved_nano
                entry.reserved_tokens = reserved_tokens
                replaced.append(held)
                totals = _new_tuple(
                    Totals, (entry.spent_nano, reserved_nano, entry.spent_tokens, reserved_tokens)
                )
                outcomes.append(_new_tuple(ReserveOutcome, (True, totals)))
        return outcomes

    def _undo(self, items: Sequence[ReserveItem], replaced: list[tuple[int, int] | None]) -> None:
        """Caller holds the lock: take back the first ``len(replaced)`` items, last first."""
        for index in range(len(replaced) - 1, -1, -1):
            account, (reservation_id, nano, tokens, _), _, _ = items[index]
            entry = self._entries[(account.key, account.bucket)]
            entry.reserved_nano -= nano
            entry.reserved_tokens -= tokens
            held = replaced[index]
            if held is None:
                del entry.reservations[reservation_id]
            else:
                entry.reservations[reservation_id] = held

    def _refused_outcomes(self, items: Sequence[ReserveItem]) -> list[ReserveOutcome]:
        """Caller holds the lock and reserved nothing: which items would fit, each counting the ones
        before it as if they had been reserved, with every account's totals as they stand."""
        pending: dict[tuple[str, str], tuple[int, int]] = {}  # what earlier items would add, by account
        admitted: list[bool] = []
        for account, reservation, limits, force in items:
            slot = (account.key, account.bucket)
            entry = self._entries.get(slot) or _Entry()
            extra_nano, extra_tokens = pending.get(slot, (0, 0))
            reserved_nano = entry.reserved_nano + extra_nano + reservation.nano
            reserved_tokens = entry.reserved_tokens + extra_tokens + reservation.tokens
            fits = force or (
                (limits.nano is None or entry.spent_nano + reserved_nano <= limits.nano)
                and (limits.tokens is None or entry.spent_tokens + reserved_tokens <= limits.tokens)
            )
            if fits:
                pending[slot] = (reserved_nano - entry.reserved_nano, reserved_tokens - entry.reserved_tokens)
            admitted.append(fits)
        return [
            ReserveOutcome(
                fits, (self._entries.get((item.account.key, item.account.bucket)) or _Entry()).totals()
            )
            for fits, item in zip(admitted, items, strict=True)
        ]

    def settle_many(self, items: Sequence[SettleItem]) -> list[Totals]:
        results: list[Totals] = []
        with self._lock:
            now = self._clock()
            if now >= self._next_prune:
                self._prune(now)
            entries = self._entries
            for account, reservation_id, nano, tokens, reserved_nano, reserved_tokens in items:
                entry = entries.get((account.key, account.bucket))
                if entry is None:
                    entry = entries[(account.key, account.bucket)] = _Entry(retain_until=account.retain_until)
                held = entry.reservations.pop(reservation_id, None)
                if held is None:
                    # Never reserved here (a fail-open admission): charge the difference, as in settle().
                    delta_nano, delta_tokens = nano - reserved_nano, tokens - reserved_tokens
                else:
                    entry.reserved_nano -= held[0]
                    entry.reserved_tokens -= held[1]
                    delta_nano, delta_tokens = nano, tokens
                spent_nano = entry.spent_nano + delta_nano
                entry.spent_nano = spent_nano = spent_nano if spent_nano > 0 else 0
                spent_tokens = entry.spent_tokens + delta_tokens
                entry.spent_tokens = spent_tokens = spent_tokens if spent_tokens > 0 else 0
                results.append(
                    _new_tuple(Totals, (spent_nano, entry.reserved_nano, spent_tokens, entry.reserved_tokens))
                )
        return results

    def close(self) -> None:
        """Nothing to release."""

    def forget(self, key: str) -> None:
        """Drop every account of budget ``key`` (a private budget that is gone).

        A private budget's finalizer calls this, and the garbage collector runs finalizers wherever it
        happens to collect — possibly inside another operation of this ledger on the same thread, with the
        lock held, where waiting for the lock would wait forever. So it never waits: when the lock is busy
        the key is queued (``list.append`` needs no lock) and the next prune drops its accounts.
        """
        self._forgotten.append(key)
        if self._lock.acquire(blocking=False):
            try:
                self._drop_forgotten()
            finally:
                self._lock.release()

    def _drop_forgotten(self) -> None:
        """Caller holds the lock."""
        while self._forgotten:
            key = self._forgotten.pop()
            for slot in [slot for slot in self._entries if slot[0] == key]:
                self._entries.pop(slot).live = False

    def _prune(self, now: float) -> None:
        """Caller holds the lock and found the prune due: drop finished windows past their retention."""
        self._next_prune = now + 60.0
        self._drop_forgotten()
        for slot, old in list(self._entries.items()):
            if (
                old.retain_until is not None
                and old.retain_until < now
                and not old.reservations
                and not old.unlisted
            ):
                del self._entries[slot]
                old.live = False


_batching: dict[tuple[type, str], bool] = {}


def _batches(kind: type, operation: str) -> bool:
    """Whether ``kind``'s ``<operation>_many`` may stand for its ``operation``.

    Not for a ledger written before the batched operations existed, nor for a subclass that overrides
    ``reserve``/``settle`` (to count, to fail, to log) without overriding the batched one: its override
    must keep seeing every reservation.
    """
    known = _batching.get((kind, operation))
    if known is None:
        batched = f"{operation}_many"
        single_owner = next((base for base in kind.__mro__ if operation in vars(base)), None)
        batch_owner = next((base for base in kind.__mro__ if batched in vars(base)), None)
        known = batch_owner is not None and (single_owner is None or issubclass(batch_owner, single_owner))
        _batching[(kind, operation)] = known
    return known


def reserve_many(ledger: Ledger, items: Sequence[ReserveItem]) -> list[ReserveOutcome]:
    """``ledger.reserve_many(items)``; for a ledger written before it existed, the same one item at a time.

    That fallback is all-or-nothing in effect (a refusal settles the items already reserved back to
    nothing) but not atomic: another caller may briefly see those reservations.
    """
    batches = _batching.get((type(ledger), "reserve"))  # _batches, its cached answer inlined
    if batches or (batches is None and _batches(type(ledger), "reserve")):
        return ledger.reserve_many(items)
    outcomes: list[ReserveOutcome] = []
    for account, reservation, limits, force in items:
        outcome = ledger.reserve(account, reservation, limits, force=force)
        outcomes.append(outcome)
        if not outcome.admitted:
            made = [item for item, done in zip(items, outcomes, strict=False) if done.admitted]
            if made:
                settle_many(
                    ledger,
                    [
                        SettleItem(
                            item.account,
                            item.reservation.id,
                            0,
                            0,
                            item.reservation.nano,
                            item.reservation.tokens,
                        )
                        for item in made
                    ],
                )
            break
    return outcomes + [ReserveOutcome(False, Totals())] * (len(items) - len(outcomes))


def settle_many(ledger: Ledger, items: Sequence[SettleItem]) -> list[Totals]:
    """``ledger.settle_many(items)``, or one :meth:`Ledger.settle` per item for an older ledger."""
    batches = _batching.get((type(ledger), "settle"))
    if batches or (batches is None and _batches(type(ledger), "settle")):
        return ledger.settle_many(items)
    return [
        ledger.settle(
            account,
            reservation_id,
            nano=nano,
            tokens=tokens,
            reserved_nano=reserved_nano,
            reserved_tokens=reserved_tokens,
        )
        for account, reservation_id, nano, tokens, reserved_nano, reserved_tokens in items
    ]


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

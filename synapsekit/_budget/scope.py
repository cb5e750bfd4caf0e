"""``BudgetScope``: the budget every LLM call started inside it is admitted against.

The lifecycle, per call (the core calls the hooks; see :mod:`synapsekit._core.call`):

* :meth:`BudgetScope.admit` — before anything is sent. The circuit breaker answers first (while it is open,
  calls are refused at once; see :mod:`synapsekit._budget.circuit`). Then the call's worst case — input
  tokens counted from the request plus its ``max_tokens`` (or :data:`DEFAULT_MAX_OUTPUT_TOKENS`) priced as
  output — is reserved atomically in the ledger. If it does not fit, ``"raise"`` refuses the call with
  :class:`BudgetExceeded` (the request is never sent) and ``"warn"`` lets it through with one
  :class:`BudgetWarning`.
* :meth:`BudgetScope.on_chunk` — a stream that outruns its reservation (no ``max_tokens``, a provider that
  ignores it) grows the reservation as it goes; when the ledger refuses, the stream is cut with
  :class:`BudgetExceeded` and what it streamed so far is charged.
* :meth:`BudgetScope.on_end` — the reservation settles to the call's real cost. A call that failed before
  producing usage (a provider error, a cancellation) costs nothing, so settling releases it.
* :meth:`BudgetScope.release` — another budget refused the call, or a layer nearer the wire took it over.

**Unknown prices.** With ``on_unknown_price="admit"`` (the default) a model without a known price reserves
no money: it is admitted on the token limit alone (if any), its cost is counted as unknown
(:attr:`BudgetScope.unknown_cost_calls`), and the pricing module warns once per model. With ``"refuse"`` a
cost budget refuses it. Set a price (``synapsekit._pricing.prices.set_price``) to budget such a model.

**Settlement always resolves the reservation**: usage that cannot be right (see
:data:`synapsekit._core.call.MAX_PLAUSIBLE_TOKENS`) or a cost that fails to compute settles the call at its
reservation, the worst case it was admitted with.

**Bound.** Reservations are exact worst cases except for the input estimate when tiktoken cannot count the
model's tokens offline (four characters per token); spend can overrun the limit by at most that estimate's
error on the calls in flight, and the next admission sees the real spend.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
import uuid
import weakref
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Final

from synapsekit import semconv
from synapsekit._budget import events as _events
from synapsekit._budget.circuit import Admission, CircuitBreaker, CircuitState
from synapsekit._budget.events import ROUTINE_KINDS, BudgetEvent, emit, note_on_span
from synapsekit._budget.ledger import (
    Account,
    Ledger,
    LedgerError,
    Limits,
    MemoryLedger,
    Reservation,
    Totals,
    _Entry,
    default_ledger,
    ledger_from_url,
)
from synapsekit._budget.limit import (
    NANO_PER_USD,
    ON_EXCEEDED,
    ON_LEDGER_ERROR,
    ON_UNKNOWN_PRICE,
    limit_to_nano,
    nano_to_usd,
    validate_choice,
    validate_cost,
    validate_max_tokens,
    validate_seconds,
    validate_window,
)
from synapsekit._budget.tokens import (
    _counters,
    count_input_tokens,
    preload as preload_tokenizers,
)
from synapsekit._budget.windows import Clock, as_utc, bucket_of, retain_until, utc_now, window_end
from synapsekit._core.errors import report_internal_error
from synapsekit._core.estimate import (
    CHARS_PER_TOKEN,
    estimate_tokens,
    estimate_tokens_from_chars,
    max_chars_within_tokens,
)
from synapsekit._core.exceptions import BudgetExceeded
from synapsekit._core.prompt import PromptParts
from synapsekit._core.scope import Scope, ScopeBatch
from synapsekit._pricing.callsite import warn_at_user
from synapsekit._pricing.preload import preload_prices
from synapsekit._pricing.prices import (
    _resolved as _resolved_prices,
    compute_cost,
    estimate_max_cost_nano,
)
from synapsekit._pricing.tables import cost_to_nano, nano_cost

if TYPE_CHECKING:
    from synapsekit._budget.nest import NestPlan
    from synapsekit._budget.remote import PropagatedBudget
    from synapsekit._core.call import LLMCall

logger = logging.getLogger("synapsekit.budget")

DEFAULT_MAX_OUTPUT_TOKENS: Final = 4096
"""Output tokens reserved for a request that sets no ``max_tokens``."""
DEFAULT_RESERVATION_TTL_S: Final = 600.0
"""How long a reservation may stay unsettled before a shared ledger charges it (a crashed process)."""
DEFAULT_CIRCUIT_COOLDOWN_S: Final = 60.0
"""How long an open circuit refuses calls before it lets one probe through (unless the window rolls over)."""
# A stream that outruns its reservation grows it by at least this many output tokens at a time, so that a
# long stream asks the ledger once per so many tokens rather than once per chunk.
_GROWTH_STEP_TOKENS: Final = 64
# Ledgers keep amounts in signed 64-bit integers (SQLite, Redis); an amount past this could not be stored.
_MAX_LEDGER_AMOUNT: Final = 2**62
# Above any total a ledger can reach (amounts stop at _MAX_LEDGER_AMOUNT per call): "no limit".
_UNLIMITED: Final = 1 << 126

# Shorter than any bucket of the window: a moment this far before the bucket's end is surely inside it.
_WINDOW_LENGTHS: Final = {"hour": timedelta(hours=1), "day": timedelta(days=1), "month": timedelta(days=28)}

_shared_memory_ledger = MemoryLedger()
# The span attributes budgets note on every traced call (see synapsekit._budget.events.note_on_span).
_RESERVED_USD: Final = semconv.SYNAPSEKIT_BUDGET_RESERVED_USD
_REMAINING_USD: Final = semconv.SYNAPSEKIT_BUDGET_REMAINING_USD
_BUDGET_NAME: Final = semconv.SYNAPSEKIT_BUDGET_NAME
_time = time.time
_CLOSED: Final = CircuitState.CLOSED
# Built once per budget per call: tuple.__new__ runs in C, a NamedTuple's own __new__ is a Python call.
_new_tuple = tuple.__new__


def _streamed_output_tokens(call: LLMCall) -> int:
    """Output tokens a stream has produced so far: reported, else estimated from its text.

    Unlike ``call.output_tokens_so_far``, the estimate stops at the request's ``max_tokens``, where the
    provider stops too.
    """
    output_tokens = call.output_tokens
    if output_tokens is None:
        output_tokens = estimate_tokens_from_chars(call._streamed_chars)
        max_output_tokens = call.max_output_tokens
        if max_output_tokens is not None and output_tokens > max_output_tokens:
            output_tokens = max_output_tokens
    return output_tokens


def _usd(nano: int) -> str:
    """Exact dollars for messages: ``0.000012999``, never a rounded ``0.000013``."""
    return format((Decimal(nano) / NANO_PER_USD).normalize(), "f")


class BudgetWarning(UserWarning):
    """A ``"warn"`` budget let a call through over its limit (or a stream run past it)."""


class BudgetLedgerUnavailable(BudgetExceeded):
    """The ledger could not be reached and the budget fails closed: the request was not sent."""


class _Hold:
    """What one admitted call holds in this budget (identity-compared: it is the circuit's probe token).

    Built on every admission, per budget: made with ``object.__new__`` and given its ``id`` and ``account``;
    the other fields start at the class's defaults until set (no ``__init__`` frame, no dataclass setters).
    """

    id: str
    account: Account
    input_tokens: int = 0
    output_tokens: int = 0
    priced: bool = False
    nano: int = 0
    tokens: int = 0
    in_ledger: bool = True
    warned: bool = False
    cut: bool = False
    # The memory ledger's entry the reservation was made on, when the budget reserved on it directly (see
    # MemoryLedger.entry); None for any other ledger.
    entry: _Entry | None = None
    # The reservation on ``entry`` is unlisted (no ``id`` yet; see MemoryLedger.entry): _list_hold gives it
    # one before the ledger's own operations are asked about it.
    unlisted: bool = False


_new_hold = object.__new__

# admit's common case keeps its reservation on the call (LLMCall._scope_hold), not in a _Hold in _holds:
# (scope, ledger, account, entry, nano, tokens, input_tokens, output_tokens), the reservation made unlisted
# on ``entry`` of the memory ledger ``ledger``, priced. One tuple built in C and a slot of the call, where a
# _Hold is an object with eight attribute stores and _holds an id(), a dict store and a dict pop per call.
_LoneHold = tuple["BudgetScope", MemoryLedger, Account, _Entry, int, int, int, int]


def _hold_of(held: _LoneHold) -> _Hold:
    """The :class:`_Hold` of a reservation kept on the call, for the paths that work on holds."""
    hold = _new_hold(_Hold)
    _, _, hold.account, hold.entry, hold.nano, hold.tokens, hold.input_tokens, hold.output_tokens = held
    hold.priced = hold.unlisted = True
    return hold


# "<pid>-", the middle of every reservation id, refreshed in a forked child (a reservation id must stay
# unique across the processes sharing a ledger): os.getpid() and its formatting are not redone per call.
_pid_tag = f"{os.getpid()}-"


def _refresh_pid_tag() -> None:
    global _pid_tag
    _pid_tag = f"{os.getpid()}-"


os.register_at_fork(after_in_child=_refresh_pid_tag)


def _worst_case_nano(provider: str, model: str | None, input_tokens: int, output_tokens: int) -> int | None:
    """:func:`estimate_max_cost_nano`, with its common case (a resolved fixed price) computed in place."""
    if model is None:
        return None
    schedule = _resolved_prices.get((provider, model))
    if schedule is not None and output_tokens >= 0 and input_tokens >= 0:
        rates = schedule.worst_case_nano_rates
        if rates is not None:
            return -(-(rates[0] * input_tokens + rates[1] * output_tokens + rates[2]) // rates[3])
    return estimate_max_cost_nano(provider, model, input_tokens=input_tokens, max_output_tokens=output_tokens)


def _settle_on_entry(ledger: MemoryLedger, entry: _Entry, hold: _Hold, nano: int, tokens: int) -> _Entry:
    """The caller holds ``ledger``'s lock: settle ``hold``, reserved on ``entry`` directly, at ``nano`` and
    ``tokens`` (MemoryLedger.settle's arithmetic, for every case); the entry it was settled on."""
    if not entry.live:
        # Dropped meanwhile (a forgotten budget), its reservations with it: settle on the account's entry now.
        entry = ledger.entry(hold.account)
        held = None
    elif hold.unlisted:
        entry.unlisted -= 1
        held = (hold.nano, hold.tokens)
    else:
        held = entry.reservations.pop(hold.id, None)
    if held is None:
        # Not held here any more: charge the difference, as MemoryLedger.settle does.
        delta_nano, delta_tokens = nano - hold.nano, tokens - hold.tokens
    else:
        entry.reserved_nano -= held[0]
        entry.reserved_tokens -= held[1]
        delta_nano, delta_tokens = nano, tokens
    hold.unlisted = False
    spent_nano = entry.spent_nano + delta_nano
    entry.spent_nano = spent_nano if spent_nano > 0 else 0
    spent_tokens = entry.spent_tokens + delta_tokens
    entry.spent_tokens = spent_tokens if spent_tokens > 0 else 0
    return entry


def _list_hold(scope: BudgetScope, hold: _Hold) -> None:
    """Give ``hold``'s unlisted reservation an id and list it in its entry, as the ledger's reserve() would
    have: the ledger's own operations (a stream growing it, a release, a batch settling it) then find it."""
    ledger = scope.ledger
    assert type(ledger) is MemoryLedger and hold.entry is not None
    with ledger._lock:
        if not hold.unlisted:
            return  # listed meanwhile, or settled
        entry = hold.entry
        hold.id = f"{scope._id_prefix}{_pid_tag}{next(scope._ids)}"
        hold.unlisted = False
        if entry.live:
            entry.unlisted -= 1
            entry.reservations[hold.id] = (hold.nano, hold.tokens)
        # else: dropped with the entry (a forgotten budget); settling it charges the difference.


class BudgetScope(Scope):
    """An ambient budget; ``with``/``async with`` it, or wrap an LLM in a ``BudgetGuard``.

    See :func:`synapsekit.budget` for the parameters. Read-outs (:attr:`spent_usd`, :attr:`remaining_usd`,
    :attr:`circuit_state`...) are about the current window.
    """

    gates_calls = True
    sets_chunk_allowance = True
    # Set by budget(..., propagate=True): the identity outgoing requests carry (see _budget/remote.py).
    remote: PropagatedBudget | None = None
    # Epoch seconds after which a shared ledger may drop a "session" account (None: never). A propagated
    # budget is one per user request: its keys must not pile up in Redis forever.
    session_retain_until: float | None = None
    # Every budget in scope is admitted and settled together, one ledger operation per ledger.
    batch: ClassVar[ScopeBatch | None] = None  # set below, once the functions are defined

    def __init__(
        self,
        max_cost_usd: float | Decimal | None = None,
        *,
        window: str = "session",
        max_tokens: int | None = None,
        on_exceeded: str = "raise",
        name: str | None = None,
        ledger: Ledger | str | None = None,
        key: str | None = None,
        on_ledger_error: str = "fail_closed",
        default_max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S,
        circuit_cooldown_s: float = DEFAULT_CIRCUIT_COOLDOWN_S,
        on_unknown_price: str = "admit",
        clock: Clock | None = None,
    ) -> None:
        validate_cost(max_cost_usd, required=False)
        validate_window(window)
        validate_max_tokens(max_tokens)
        validate_choice("on_exceeded", on_exceeded, ON_EXCEEDED)
        validate_choice("on_ledger_error", on_ledger_error, ON_LEDGER_ERROR)
        validate_choice("on_unknown_price", on_unknown_price, ON_UNKNOWN_PRICE)
        if max_cost_usd is None and max_tokens is None:
            raise ValueError("a budget needs a limit: give max_cost_usd, max_tokens or both")
        if isinstance(default_max_output_tokens, bool) or not isinstance(default_max_output_tokens, int):
            raise TypeError(f"default_max_output_tokens must be an int, got {default_max_output_tokens!r}")
        if default_max_output_tokens < 1:
            raise ValueError(f"default_max_output_tokens must be >= 1, got {default_max_output_tokens!r}")
        reservation_ttl_s = validate_seconds("reservation_ttl_s", reservation_ttl_s)
        circuit_cooldown_s = validate_seconds("circuit_cooldown_s", circuit_cooldown_s)
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a callable returning a datetime, got {clock!r}")
        if key is not None and (not isinstance(key, str) or not key):
            raise ValueError(f"key must be a non-empty string, got {key!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")

        # Every admission prices the call's worst case and counts its input tokens: have the price data
        # and tokenizers ready before the first request needs them, loaded off the request path.
        preload_prices()
        preload_tokenizers()
        # The class's flags, also on the instance: the core reads them on every call, and an attribute read
        # from the class through an instance is not specialized by the interpreter (3.11).
        self.gates_calls = self.sets_chunk_allowance = True
        self.window = window
        self.on_exceeded = on_exceeded
        self.on_ledger_error = on_ledger_error
        self.default_max_output_tokens = default_max_output_tokens
        self.reservation_ttl_s = reservation_ttl_s
        self.circuit_cooldown_s = circuit_cooldown_s
        self.on_unknown_price = on_unknown_price
        self._limits = Limits(
            nano=None if max_cost_usd is None else limit_to_nano(max_cost_usd), tokens=max_tokens
        )
        # The same limits as integers (_UNLIMITED for none), for the memory ledger's direct path.
        self._limit_nano = _UNLIMITED if self._limits.nano is None else self._limits.nano
        self._limit_tokens = _UNLIMITED if max_tokens is None else max_tokens
        # A budget without a key is private to this object; a key names a budget that every scope using
        # the same key and ledger shares (across processes, with a shared ledger).
        self.key = key if key is not None else f"private:{uuid.uuid4().hex}"
        self.name = name if name is not None else (key if key is not None else f"budget-{self.key[8:16]}")
        self.ledger: Ledger = self._pick_ledger(ledger, key)
        if key is None and self.ledger is _shared_memory_ledger:
            # Nobody else can name this budget's accounts: they go with it (a budget per request must not
            # grow the shared ledger).
            weakref.finalize(self, _shared_memory_ledger.forget, self.key)
        self._clock: Clock = clock if clock is not None else utc_now
        self._lock = threading.Lock()
        self._breaker = CircuitBreaker(
            circuit_cooldown_s, time.time if clock is None else lambda: as_utc(clock()).timestamp()
        )
        self._holds: dict[int, _Hold] = {}
        # Reservation ids are unique across hosts (random prefix), forked processes (pid) and calls.
        self._id_prefix = f"{uuid.uuid4().hex}-"
        self._ids = itertools.count()
        # The last account used, with the epoch seconds [starts, ends) in which it is surely current.
        self._current_account: tuple[Account, float, float] | None = None
        # The same for admit to read in one step, with the wall time: set only for the default clock (a
        # budget with its own clock cannot tell its window from the wall time); until then, bounds that
        # hold no moment.
        self._wall_window: tuple[Account, float, float] = (
            Account(self.key, "", None),
            math.inf,
            -math.inf,
        )
        # admit's common case: a "raise" budget on a MemoryLedger (that very class; a subclass's reserve and
        # settle must see every operation), fixed at construction as a nest's plan fixes them per window.
        self._direct_ledger = (
            self.ledger if type(self.ledger) is MemoryLedger and on_exceeded == "raise" else None
        )
        self._last_totals: tuple[str, Totals] = ("", Totals())
        # On a MemoryLedger (exactly that class): the entry of the account last used, kept to reserve and
        # settle on it directly. Read and replaced under the ledger's lock; one tuple, so a reader without
        # the lock never pairs an account with another account's entry.
        self._entry_ref: tuple[Account, _Entry] | None = None
        # The plan of the nest of budgets this one is the innermost of (see _nest_plan).
        self._nest_plan: NestPlan | None = None
        self._ledger_error_logged = False
        self.rejections = 0
        self.unknown_cost_calls = 0

    @staticmethod
    def _pick_ledger(ledger: Ledger | str | None, key: str | None) -> Ledger:
        if isinstance(ledger, str):
            return ledger_from_url(ledger)
        if ledger is not None:
            return ledger
        configured = default_ledger()
        if configured is not None:
            return configured
        # Private budgets share the process's memory ledger too (their keys are unique, so they never mix):
        # nested budgets on one ledger are admitted and settled in one operation. Their accounts are dropped
        # when the budget object goes (see __init__).
        return _shared_memory_ledger

    # -- read-outs ---------------------------------------------------------------------------------------
    @property
    def limit_usd(self) -> float | None:
        return None if self._limits.nano is None else nano_to_usd(self._limits.nano)

    @property
    def max_tokens(self) -> int | None:
        return self._limits.tokens

    @property
    def circuit_state(self) -> CircuitState:
        return self._breaker.state(self._bucket())

    def totals(self) -> Totals:
        """The current window's ledger totals (a round trip for shared ledgers)."""
        return self.ledger.totals(self._account(self._clock()))

    @property
    def spent_usd(self) -> float:
        """Settled spend in the current window."""
        return nano_to_usd(self.totals().spent_nano)

    @property
    def reserved_usd(self) -> float:
        """What calls in flight hold, at their worst case."""
        return nano_to_usd(self.totals().reserved_nano)

    @property
    def spent_tokens(self) -> int:
        return self.totals().spent_tokens

    @property
    def remaining_usd(self) -> float | None:
        """``limit - spent - reserved``, never below 0; None for a budget with only a token limit."""
        return self._remaining(self.totals())

    # -- the hooks the core calls ------------------------------------------------------------------------
    def admit(self, call: LLMCall) -> None:
        """One budget alone: the same steps as :func:`~synapsekit._budget.nest.admit_budgets`, without the
        batch's lists (the common case, one budget in scope, pays for none of them).

        The common case in place: a closed breaker, a priced call (streamed or not), a ``"raise"`` budget
        on the memory ledger. Its reservation is made on the ledger's entry directly and kept on the call
        (``LLMCall._scope_hold``, a :data:`_LoneHold`) rather than in a :class:`_Hold` in ``_holds``;
        :meth:`_admit_held` takes every other case. A stream keeps it there while its text stays within
        the reservation (:meth:`on_chunk`).
        """
        wall = _time()
        # _account_at, inlined: this runs on every call.
        account, starts, ends = self._wall_window
        if not starts <= wall < ends:
            account = self._account(self._clock())
            current = self._current_account
            if current is not None and self._clock is utc_now:
                self._wall_window = current
        if self._breaker._state is not _CLOSED:
            self._admit_held(call, account, wall, None)  # the breaker answers before any estimate
            return
        model = call.request_model
        # The prompt's tokens (call.prompt_source and count_input_tokens, their common case in place: a
        # prompt given as text or parts, estimated from its length).
        prompt = call.prompt
        if type(prompt) is str:
            chars = len(prompt)
        elif type(prompt) is PromptParts:
            chars = prompt._length
        else:
            prompt = call.prompt_source  # the instrumentor's callable, read once and kept; or None
            chars = 0 if prompt is None else len(prompt)
        if _counters.get(model or "") is estimate_tokens:
            input_tokens = -(-chars // CHARS_PER_TOKEN)
        else:
            input_tokens = count_input_tokens(prompt, model)
        max_output_tokens = call.max_output_tokens
        output_tokens = self.default_max_output_tokens if max_output_tokens is None else max_output_tokens
        # _worst_case_nano's common case (a resolved fixed price), in place.
        nano: int | None
        schedule = None if model is None else _resolved_prices.get((call.provider, model))
        rates = None if schedule is None else schedule.worst_case_nano_rates
        if rates is not None and output_tokens >= 0:
            nano = -(-(rates[0] * input_tokens + rates[1] * output_tokens + rates[2]) // rates[3])
        else:
            nano = _worst_case_nano(call.provider, model, input_tokens, output_tokens)
        ledger = self._direct_ledger
        if nano is None or ledger is None or call._scope_hold is not None:
            self._admit_held(call, account, wall, (input_tokens, output_tokens, nano))
            return
        tokens = input_tokens + output_tokens
        # MemoryLedger.reserve, on the entry kept for this window (no record built, no lookup): a subclass's
        # reserve (one that counts, fails, logs) is called as usual, in _admit_held.
        limit_nano, limit_tokens = self._limit_nano, self._limit_tokens
        # ``with`` rather than acquire() and try/finally (about 1,000 instructions less): a KeyboardInterrupt
        # raised right after acquire() returns, before the ``try`` (signal handlers run there), would leave the
        # ledger's lock held for good and every later budgeted call in the process waiting on it (a notebook
        # survives the interrupt). The same in every memory-ledger block here and in nest.py.
        with ledger._lock:
            # The ledger's clock, read once already when it is the default one (time.time).
            now = wall if ledger._clock is _time else ledger._clock()
            if now >= ledger._next_prune:
                ledger._prune(now)
            ref = self._entry_ref
            if ref is None or ref[0] is not account or not ref[1].live:
                ref = self._entry_ref = (account, ledger.entry(account))
            entry = ref[1]
            spent_nano, spent_tokens = entry.spent_nano, entry.spent_tokens
            reserved_nano, reserved_tokens = entry.reserved_nano + nano, entry.reserved_tokens + tokens
            refused = spent_nano + reserved_nano > limit_nano or spent_tokens + reserved_tokens > limit_tokens
            if not refused:
                # Unlisted: the call's hold keeps the amounts (see MemoryLedger.entry).
                entry.unlisted += 1
                entry.reserved_nano = reserved_nano
                entry.reserved_tokens = reserved_tokens
        held: _LoneHold = (self, ledger, account, entry, nano, tokens, input_tokens, output_tokens)
        if refused:
            totals = _new_tuple(
                Totals, (spent_nano, reserved_nano - nano, spent_tokens, reserved_tokens - tokens)
            )
            self._last_totals = (account.bucket, totals)
            # Only a refusal over settled spend opens the circuit: reservations in flight may yet be
            # released, and refusing everyone at once because of them would be wrong.
            exhausted = self._no_room_after_settled(totals, nano, tokens)
            self._breaker.report(held, account.bucket, exhausted=exhausted, good=False)
            self._refuse(call, account.bucket, totals, nano, tokens, "over_limit")  # raises ("raise")
            return
        call._scope_hold = held  # read and cleared under the ledger's lock, by on_end or release
        if call.streamed:
            self._watch(call, output_tokens)
        # (_ledger_error_logged is not reset: a MemoryLedger raises no LedgerError, nothing ever set it.)
        if "reserved" in _events.wanted_kinds:
            totals = _new_tuple(Totals, (spent_nano, reserved_nano, spent_tokens, reserved_tokens))
            self._emit("reserved", call, account.bucket, totals, nano, None)
        elif call.span is not None:
            # Only the span hears of it: note_on_span's "reserved" case, in place (every traced call).
            amount_usd = nano / NANO_PER_USD
            notes = call.budget_attributes
            if notes is None:
                call.budget_attributes = {_RESERVED_USD: amount_usd}
            elif amount_usd > notes.get(_RESERVED_USD, -1.0):
                notes[_RESERVED_USD] = amount_usd

    def _estimate(self, call: LLMCall) -> tuple[int, int, int | None]:
        """The call's input tokens, output tokens and worst case in nano-dollars (None: no known price)."""
        model = call.request_model
        input_tokens = count_input_tokens(call.prompt_source, model)
        max_output_tokens = call.max_output_tokens
        output_tokens = self.default_max_output_tokens if max_output_tokens is None else max_output_tokens
        return (
            input_tokens,
            output_tokens,
            _worst_case_nano(call.provider, model, input_tokens, output_tokens),
        )

    def _admit_held(
        self, call: LLMCall, account: Account, wall: float, estimate: tuple[int, int, int | None] | None
    ) -> None:
        """:meth:`admit` with a :class:`_Hold` in ``_holds``: a breaker not closed, a stream, a ``"warn"``
        budget, an unknown price, any other ledger. ``estimate``: :meth:`_estimate`'s answer, if made."""
        hold = _new_hold(_Hold)
        hold.account = account
        breaker = self._breaker
        if breaker._state is not _CLOSED and breaker.enter(account.bucket, hold) is Admission.REFUSE:
            # Exhausted: no estimate, no ledger round trip ("warn" goes on, having warned).
            self._refuse(call, account.bucket, self._cached_totals(account.bucket), None, 0, "circuit_open")
            hold.warned = True
        input_tokens, output_tokens, worst = self._estimate(call) if estimate is None else estimate
        hold.input_tokens, hold.output_tokens = input_tokens, output_tokens
        tokens = input_tokens + output_tokens
        if worst is None:
            if self.on_unknown_price == "refuse" and self._limits.nano is not None:
                self._refuse_unknown_price(call, hold, tokens)
            nano = 0
        else:
            hold.priced = True
            nano = worst
        force = self.on_exceeded == "warn"
        ledger = self.ledger
        totals: Totals | None = None
        if type(ledger) is MemoryLedger:
            # MemoryLedger.reserve, on the entry kept for this window, as in admit.
            limit_nano, limit_tokens = self._limit_nano, self._limit_tokens
            with ledger._lock:
                now = ledger._clock()
                if now >= ledger._next_prune:
                    ledger._prune(now)
                ref = self._entry_ref
                if ref is None or ref[0] is not account or not ref[1].live:
                    ref = self._entry_ref = (account, ledger.entry(account))
                entry = ref[1]
                spent_nano, spent_tokens = entry.spent_nano, entry.spent_tokens
                reserved_nano, reserved_tokens = entry.reserved_nano + nano, entry.reserved_tokens + tokens
                refused = not force and (
                    spent_nano + reserved_nano > limit_nano or spent_tokens + reserved_tokens > limit_tokens
                )
                if not refused:
                    # Unlisted: the hold keeps the amounts (see MemoryLedger.entry).
                    entry.unlisted += 1
                    entry.reserved_nano = reserved_nano
                    entry.reserved_tokens = reserved_tokens
            hold.nano, hold.tokens, hold.unlisted = nano, tokens, True
            if refused:
                totals = _new_tuple(
                    Totals, (spent_nano, reserved_nano - nano, spent_tokens, reserved_tokens - tokens)
                )
                self._last_totals = (account.bucket, totals)
                # Only a refusal over settled spend opens the circuit (see admit).
                exhausted = self._no_room_after_settled(totals, nano, tokens)
                self._breaker.report(hold, account.bucket, exhausted=exhausted, good=False)
                self._refuse(call, account.bucket, totals, nano, tokens, "over_limit")
            hold.entry = entry
            if force and not hold.warned:
                totals = _new_tuple(Totals, (spent_nano, reserved_nano, spent_tokens, reserved_tokens))
                if self._over(totals):
                    self._refuse(call, account.bucket, totals, nano, tokens, "over_limit", own=True)
                    hold.warned = True
            if self._ledger_error_logged:
                self._ledger_error_logged = False
            wanted = "reserved" in _events.wanted_kinds
            if wanted and totals is None:
                totals = _new_tuple(Totals, (spent_nano, reserved_nano, spent_tokens, reserved_tokens))
            in_ledger = True
        else:
            hold_id = hold.id = f"{self._id_prefix}{_pid_tag}{next(self._ids)}"
            reservation = _new_tuple(Reservation, (hold_id, nano, tokens, wall + self.reservation_ttl_s))
            try:
                outcome = ledger.reserve(account, reservation, self._limits, force=force)
            except LedgerError as exc:
                self._ledger_failed(call, hold, exc)
                hold.in_ledger = False
            else:
                totals = outcome.totals
                self._last_totals = (account.bucket, totals)  # _remember, inlined: every call
                if not outcome.admitted:
                    # Only a refusal over settled spend opens the circuit (as above).
                    exhausted = self._no_room_after_settled(totals, nano, tokens)
                    self._breaker.report(hold, account.bucket, exhausted=exhausted, good=False)
                    self._refuse(call, account.bucket, totals, nano, tokens, "over_limit")
                elif force and not hold.warned and self._over(totals):
                    self._refuse(call, account.bucket, totals, nano, tokens, "over_limit", own=True)
                    hold.warned = True
                self._ledger_error_logged = False
            hold.nano, hold.tokens = nano, tokens
            wanted = "reserved" in _events.wanted_kinds
            in_ledger = hold.in_ledger
        self._holds[id(call)] = hold  # one dict store: atomic under the GIL
        if in_ledger:
            if call.streamed:
                self._watch(call, output_tokens)
            if wanted:
                assert totals is not None
                self._emit("reserved", call, account.bucket, totals, nano, None)
            elif call.span is not None:
                # Only the span hears of it, as in admit.
                amount_usd = nano / NANO_PER_USD
                notes = call.budget_attributes
                if notes is None:
                    call.budget_attributes = {_RESERVED_USD: amount_usd}
                elif amount_usd > notes.get(_RESERVED_USD, -1.0):
                    notes[_RESERVED_USD] = amount_usd

    def _promote(self, call: LLMCall) -> None:
        """A reservation kept on the call (see :meth:`admit`) moves to a :class:`_Hold` in ``_holds``, where
        every path but admit's and on_end's common case looks for it."""
        held: _LoneHold | None = call._scope_hold
        if held is None or held[0] is not self:
            return
        with held[1]._lock:
            if call._scope_hold is held:  # not settled or moved meanwhile (by another thread)
                call._scope_hold = None
                self._holds[id(call)] = _hold_of(held)

    def on_chunk(self, call: LLMCall) -> None:
        hold = self._holds.get(id(call))
        if hold is None:
            held: _LoneHold | None = call._scope_hold
            if held is None:
                return
            if held[0] is self:
                # A reservation kept on the call (admit's): while the text and the reported input stay within
                # it, nothing moves; only one to grow becomes a _Hold.
                reported_input = call.input_tokens
                if _streamed_output_tokens(call) <= held[7] and (
                    reported_input is None or reported_input <= held[6]
                ):
                    self._watch(call, held[7])
                    return
            self._promote(call)
            hold = self._holds.get(id(call))
            if hold is None:
                return
        output_tokens = _streamed_output_tokens(call)
        reported_input = call.input_tokens
        if output_tokens > hold.output_tokens or (
            reported_input is not None and reported_input > hold.input_tokens
        ):
            if not hold.in_ledger or (hold.warned and self.on_exceeded == "warn"):
                return  # for good: nothing to grow (not in the ledger) or to warn about again
            self._grow(call, hold, max(reported_input or 0, hold.input_tokens), output_tokens)
        self._watch(call, hold.output_tokens)

    @staticmethod
    def _watch(call: LLMCall, reserved_output_tokens: int) -> None:
        """Ask to see the stream's chunks again only once its text could outrun the output tokens reserved."""
        if call.output_tokens is not None:
            return  # reported counts change only through record_usage, which triggers a check itself
        max_output_tokens = call.max_output_tokens
        if max_output_tokens is not None and max_output_tokens <= reserved_output_tokens:
            return  # the estimate stops at the request's max_tokens, which the reservation covers
        call.watch_chunks_past(max_chars_within_tokens(reserved_output_tokens))

    def release(self, call: LLMCall) -> None:
        if call._scope_hold is not None:
            self._promote(call)
        with self._lock:
            hold = self._holds.pop(id(call), None)
        if hold is None:
            return
        totals = self._settle(hold, 0, 0)
        self._breaker.report(hold, hold.account.bucket, exhausted=False, good=False)
        if totals is not None:
            self._emit("settled", call, hold.account.bucket, totals, 0, "released")

    def on_end(self, call: LLMCall) -> None:
        """One budget alone: :func:`~synapsekit._budget.nest.settle_budgets` steps without the batch's lists.

        The common case in place: a reservation admit kept on the call, settled at a fixed price (usage as
        reported, no error). :meth:`_end_held` takes every other case.
        """
        held: _LoneHold | None = call._scope_hold
        if held is None or held[0] is not self:
            self._end_held(call)
            return
        _, ledger, account, entry, held_nano, held_tokens, _, _ = held
        nano: int | None = None
        try:
            # _actual_cost's plain case (usage as reported, no error, a fixed price), in place and in
            # integers: nano_cost(rates, ...), exactly cost_to_nano(compute_cost(...).total).
            input_tokens, output_tokens = call.input_tokens, call.output_tokens
            model = call.response_model or call.request_model
            if (
                input_tokens is not None
                and output_tokens is not None
                and model is not None
                and call.error is None
                and not call.usage_implausible
            ):
                schedule = _resolved_prices.get((call.provider, model))
                rates = None if schedule is None else schedule.cost_nano_rates
                if rates is not None:
                    cached, written, reasoning = (
                        call.cached_input_tokens,
                        call.cache_creation_input_tokens,
                        call.reasoning_tokens,
                    )
                    if cached or written or reasoning:
                        nano = -(
                            -(
                                rates[0] * (input_tokens - cached - written)
                                + rates[1] * cached
                                + rates[2] * written
                                + rates[3] * (output_tokens - reasoning)
                                + rates[4] * reasoning
                                + rates[5]
                            )
                            // rates[6]
                        )
                    else:
                        # The same sum without its zero terms (no cached, cache-written or reasoning tokens).
                        nano = -(-(rates[0] * input_tokens + rates[3] * output_tokens + rates[5]) // rates[6])
                    tokens = input_tokens + output_tokens
                    # Usage as reported is plausible here (counts from 0 to a billion): only a price can be off.
                    if not 0 <= nano <= _MAX_LEDGER_AMOUNT:
                        nano, tokens = held_nano, held_tokens  # a price that cannot be right: what was held
        except Exception as exc:
            # Whatever went wrong pricing the call, it settles at its worst case, as in _end_held.
            self._promote(call)
            hold = self._holds.pop(id(call), None)
            if hold is not None:
                self._settle(hold, hold.nano, hold.tokens)
                self._breaker.report(hold, account.bucket, exhausted=False, good=False)
            report_internal_error("budget.settle", exc)
            return
        if nano is None:
            self._promote(call)  # any other settlement: the general path's, on a _Hold
            self._end_held(call)
            return
        # MemoryLedger.settle's arithmetic on the entry the call reserved on, under its lock; no record is
        # built unless an event needs the totals.
        with ledger._lock:
            if call._scope_hold is not held:
                return  # released meanwhile, by another thread (a layer nearer the wire took the call over)
            call._scope_hold = None
            # No prune check (MemoryLedger.settle makes one): a prune drops other budgets' finished windows
            # and forgotten budgets, which the next reservation's check drops as well.
            if entry.live:
                # Take the unlisted reservation back, add the cost.
                entry.unlisted -= 1
                entry.reserved_nano = reserved_nano = entry.reserved_nano - held_nano
                entry.reserved_tokens = reserved_tokens = entry.reserved_tokens - held_tokens
                entry.spent_nano = spent_nano = entry.spent_nano + nano
                entry.spent_tokens = spent_tokens = entry.spent_tokens + tokens
            else:
                entry = _settle_on_entry(ledger, entry, _hold_of(held), nano, tokens)
                spent_nano, spent_tokens = entry.spent_nano, entry.spent_tokens
                reserved_nano, reserved_tokens = entry.reserved_nano, entry.reserved_tokens
        # _exhausted, inlined; the breaker is told only what can move it (see CircuitBreaker.report): the
        # call was admitted with the breaker closed, so it is not the probe.
        if spent_nano >= self._limit_nano or spent_tokens >= self._limit_tokens:
            self._breaker.report(held, account.bucket, exhausted=True, good=True)
        over_reservation = nano > held_nano or tokens > held_tokens
        if over_reservation or call.span is not None or "settled" in _events.wanted_kinds:
            after = _new_tuple(Totals, (spent_nano, reserved_nano, spent_tokens, reserved_tokens))
            self._emit("settled", call, account.bucket, after, nano, None)
            if over_reservation and self._over(after):
                self._emit("exceeded", call, account.bucket, after, nano, "actual_cost_over_reservation")

    def _end_held(self, call: LLMCall) -> None:
        """:meth:`on_end` for a call with a :class:`_Hold` in ``_holds``."""
        hold = self._holds.pop(id(call), None)  # atomic under the GIL: one of racing ends gets it
        if hold is None:
            return  # refused here or elsewhere (already released), or never admitted here
        breaker = self._breaker
        try:
            # _actual_cost's plain case (usage as reported, no error, a fixed price), in integers:
            # nano_cost(rates, ...) is exactly cost_to_nano(compute_cost(...).total). (on_end, the lone
            # budget's hot path, has the same sum in place.)
            input_tokens, output_tokens = call.input_tokens, call.output_tokens
            model = call.response_model or call.request_model
            nano: int | None = None
            if (
                input_tokens is not None
                and output_tokens is not None
                and model is not None
                and call.error is None
                and not call.usage_implausible
            ):
                schedule = _resolved_prices.get((call.provider, model))
                rates = None if schedule is None else schedule.cost_nano_rates
                if rates is not None:
                    nano = nano_cost(
                        rates,
                        input_tokens,
                        output_tokens,
                        call.cached_input_tokens,
                        call.cache_creation_input_tokens,
                        call.reasoning_tokens,
                    )
                    tokens = input_tokens + output_tokens
                    # Usage as reported is plausible here (counts from 0 to a billion): only a price can be off.
                    if not 0 <= nano <= _MAX_LEDGER_AMOUNT:
                        nano, tokens = hold.nano, hold.tokens  # a price that cannot be right: what was held
            if nano is None:
                nano, tokens = self._actual_cost(call, hold)
                if not (0 <= nano <= _MAX_LEDGER_AMOUNT and 0 <= tokens <= _MAX_LEDGER_AMOUNT):
                    nano, tokens = hold.nano, hold.tokens  # a price that cannot be right: what was held
        except Exception as exc:
            # Whatever went wrong pricing the call, its reservation must not stay behind in the ledger to
            # be charged later: settle it at its worst case (never under-counting), then report.
            self._settle(hold, hold.nano, hold.tokens)
            breaker.report(hold, hold.account.bucket, exhausted=False, good=False)
            report_internal_error("budget.settle", exc)
            return
        entry = hold.entry
        ledger = self.ledger
        # An unlisted reservation is in the ledger: its in_ledger (a class default) not read on every call.
        if entry is not None and (hold.unlisted or hold.in_ledger) and type(ledger) is MemoryLedger:
            # MemoryLedger.settle's arithmetic on the entry the call reserved on, under its lock; no record
            # is built unless an event needs the totals.
            with ledger._lock:
                now = ledger._clock()
                if now >= ledger._next_prune:
                    ledger._prune(now)
                if hold.unlisted and entry.live:
                    # The common case: take the unlisted reservation back, add the cost (never negative).
                    entry.unlisted -= 1
                    entry.reserved_nano = reserved_nano = entry.reserved_nano - hold.nano
                    entry.reserved_tokens = reserved_tokens = entry.reserved_tokens - hold.tokens
                    entry.spent_nano = spent_nano = entry.spent_nano + nano
                    entry.spent_tokens = spent_tokens = entry.spent_tokens + tokens
                else:
                    entry = _settle_on_entry(ledger, entry, hold, nano, tokens)
                    spent_nano, spent_tokens = entry.spent_nano, entry.spent_tokens
                    reserved_nano, reserved_tokens = entry.reserved_nano, entry.reserved_tokens
                hold.unlisted = False
            # _exhausted, inlined; the breaker is told only what can move it (see CircuitBreaker.report).
            exhausted = spent_nano >= self._limit_nano or spent_tokens >= self._limit_tokens
            if exhausted or breaker._probe is hold:
                breaker.report(hold, hold.account.bucket, exhausted=exhausted, good=call.error is None)
            over_reservation = (nano > hold.nano or tokens > hold.tokens) and not hold.cut
            if over_reservation or call.span is not None or "settled" in _events.wanted_kinds:
                after = _new_tuple(Totals, (spent_nano, reserved_nano, spent_tokens, reserved_tokens))
                self._emit("settled", call, hold.account.bucket, after, nano, None)
                if over_reservation and self._over(after):
                    reason = "actual_cost_over_reservation"
                    self._emit("exceeded", call, hold.account.bucket, after, nano, reason)
            return
        # _settle, inlined: every call.
        in_ledger = hold.in_ledger
        totals: Totals | None
        try:
            totals = self.ledger.settle(
                hold.account,
                hold.id,
                nano=nano,
                tokens=tokens,
                reserved_nano=hold.nano if in_ledger else 0,
                reserved_tokens=hold.tokens if in_ledger else 0,
            )
        except LedgerError as exc:
            # The reservation stays in a shared ledger and is charged at its worst case when it expires.
            self._log_ledger_error(exc)
            totals = None
        else:
            self._last_totals = (hold.account.bucket, totals)
        # _exhausted, inlined; the breaker is told only what can move it (see CircuitBreaker.report).
        limits = self._limits
        exhausted = totals is not None and (
            (limits.nano is not None and totals.spent_nano >= limits.nano)
            or (limits.tokens is not None and totals.spent_tokens >= limits.tokens)
        )
        if exhausted or breaker._probe is hold:
            breaker.report(hold, hold.account.bucket, exhausted=exhausted, good=call.error is None)
        if totals is None:
            return
        if call.span is not None or "settled" in _events.wanted_kinds:
            self._emit("settled", call, hold.account.bucket, totals, nano, None)
        if not hold.cut and (nano > hold.nano or tokens > hold.tokens) and self._over(totals):
            self._emit("exceeded", call, hold.account.bucket, totals, nano, "actual_cost_over_reservation")

    # -- internals ---------------------------------------------------------------------------------------
    def _bucket(self) -> str:
        return bucket_of(self.window, self._clock())

    def _account_at(self, wall: float) -> Account:
        """The current window's account; ``wall`` is ``time.time()``, which the default clock agrees with."""
        current = self._current_account
        if current is not None and self._clock is utc_now:
            account, starts, ends = current
            if starts <= wall < ends:
                return account
        return self._account(self._clock())

    def _account(self, now: datetime) -> Account:
        # Most calls fall in the same bucket as the previous one: reuse it until the window ends.
        current = self._current_account
        if current is not None:
            account, starts, ends = current
            if starts <= as_utc(now).timestamp() < ends:
                return account
        retain = retain_until(self.window, now)
        account = Account(
            self.key, bucket_of(self.window, now), self.session_retain_until if retain is None else retain
        )
        end = window_end(self.window, now)
        if end is None:
            self._current_account = (account, -math.inf, math.inf)
        else:
            # A span shorter than any bucket, ending with it: a moment inside it is surely in this bucket.
            self._current_account = (
                account,
                (end - _WINDOW_LENGTHS[self.window]).timestamp(),
                end.timestamp(),
            )
        return account

    def _grow(self, call: LLMCall, hold: _Hold, input_tokens: int, output_tokens: int) -> None:
        """Extend the reservation of a stream past its worst case, or cut the stream."""
        if hold.unlisted:
            _list_hold(self, hold)  # the ledger's reserve() grows it by its id
        force = self.on_exceeded == "warn"
        for target_output in (max(output_tokens, hold.output_tokens + _GROWTH_STEP_TOKENS), output_tokens):
            nano = (
                _worst_case_nano(call.provider, call.request_model, input_tokens, target_output)
                if hold.priced
                else 0
            )
            extra_nano = max(0, (nano or 0) - hold.nano)
            extra_tokens = max(0, input_tokens + target_output - hold.tokens)
            growth = Reservation(hold.id, extra_nano, extra_tokens, time.time() + self.reservation_ttl_s)
            try:
                outcome = self.ledger.reserve(hold.account, growth, self._limits, force=force)
            except LedgerError as exc:
                if self.on_ledger_error == "fail_open":
                    self._log_ledger_error(exc)
                    hold.in_ledger = False
                    return
                raise self._exceeded_error(
                    self._cached_totals(hold.account.bucket), 0, 0, "ledger_unavailable", exc
                ) from exc
            self._remember(hold.account.bucket, outcome.totals)
            if outcome.admitted:
                hold.input_tokens, hold.output_tokens = input_tokens, target_output
                hold.nano += extra_nano
                hold.tokens += extra_tokens
                if force and self._over(outcome.totals):
                    hold.warned = True
                    bucket = hold.account.bucket
                    self._refuse(call, bucket, outcome.totals, extra_nano, extra_tokens, "stream", own=True)
                return
        # The ledger refused even the tokens already streamed: cut the stream here.
        totals = self._cached_totals(hold.account.bucket)
        hold.cut = True
        with self._lock:
            self.rejections += 1
        self._emit("exceeded", call, hold.account.bucket, totals, None, "stream_cut")
        raise self._exceeded_error(totals, 0, 0, "stream_cut", None)

    def _actual_cost(self, call: LLMCall, hold: _Hold) -> tuple[int, int]:
        if call.usage_implausible:
            # The provider's counts could not be right and were replaced by estimates, which for a response
            # that was not streamed know nothing of its output: keep the worst case that was reserved.
            if not hold.priced:
                with self._lock:
                    self.unknown_cost_calls += 1
            return hold.nano, hold.tokens
        input_tokens = call.input_tokens or 0
        output_tokens = call.output_tokens or 0
        cost = call.cost
        if (
            call.error is not None
            and call.chunks
            and (streamed := _streamed_output_tokens(call)) > output_tokens
        ):
            # A stream cut or abandoned with an error before the provider sent usage was still billed
            # for what it streamed: charge the running estimate rather than nothing.
            input_tokens = max(input_tokens, hold.input_tokens)
            output_tokens = streamed
            cost = None
        if cost is None and hold.priced:
            cost = self._price(call, input_tokens, output_tokens)
        if cost is None:
            if hold.priced:
                return hold.nano, input_tokens + output_tokens  # priced at admission: keep the worst case
            with self._lock:
                self.unknown_cost_calls += 1
            return 0, input_tokens + output_tokens
        return cost_to_nano(cost), input_tokens + output_tokens

    @staticmethod
    def _price(call: LLMCall, input_tokens: int, output_tokens: int) -> Decimal | None:
        for model in (call.model, call.request_model):
            if model is None:
                continue
            cost = compute_cost(
                call.provider,
                model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cached_input_tokens=min(call.cached_input_tokens, input_tokens),
            )
            if cost is not None:
                return cost.total
        return None

    def _settle(self, hold: _Hold, nano: int, tokens: int) -> Totals | None:
        if hold.unlisted:
            _list_hold(self, hold)  # the ledger's settle() finds it by its id
        try:
            totals = self.ledger.settle(
                hold.account,
                hold.id,
                nano=nano,
                tokens=tokens,
                reserved_nano=hold.nano if hold.in_ledger else 0,
                reserved_tokens=hold.tokens if hold.in_ledger else 0,
            )
        except LedgerError as exc:
            # The reservation stays in a shared ledger and is charged at its worst case when it expires.
            self._log_ledger_error(exc)
            return None
        self._last_totals = (hold.account.bucket, totals)  # _remember, inlined: every call
        return totals

    def _ledger_failed(self, call: LLMCall, hold: _Hold, exc: LedgerError) -> None:
        bucket = hold.account.bucket
        if self.on_ledger_error == "fail_open":
            self._log_ledger_error(exc)
            return
        self._breaker.report(hold, bucket, exhausted=False, good=False)
        with self._lock:
            self.rejections += 1
        totals = self._cached_totals(bucket)
        self._emit("rejected", call, bucket, totals, None, "ledger_unavailable")
        raise self._exceeded_error(totals, 0, 0, "ledger_unavailable", exc) from exc

    def _log_ledger_error(self, exc: LedgerError) -> None:
        if not self._ledger_error_logged:
            self._ledger_error_logged = True
            logger.warning("budget %r: %s; on_ledger_error=%s", self.name, exc, self.on_ledger_error)

    def _refuse(
        self,
        call: LLMCall,
        bucket: str,
        totals: Totals,
        nano: int | None,
        tokens: int,
        reason: str,
        *,
        own: bool = False,
    ) -> None:
        """Refuse the call (``"raise"``), or warn once and let it through (``"warn"``).

        ``own``: ``totals`` already hold this call's ``nano``/``tokens`` (a ``"warn"`` budget reserved them);
        the message counts them once, as this call's.
        """
        with self._lock:
            self.rejections += 1
        before = (
            totals._replace(
                reserved_nano=totals.reserved_nano - (nano or 0),
                reserved_tokens=totals.reserved_tokens - tokens,
            )
            if own
            else totals
        )
        error = self._exceeded_error(before, nano or 0, tokens, reason, None, call.request_model)
        if self.on_exceeded == "raise":
            self._emit("rejected", call, bucket, totals, nano, reason)
            raise error
        self._emit("exceeded", call, bucket, totals, nano, reason)
        warn_at_user(str(error), BudgetWarning)

    def _refuse_unknown_price(self, call: LLMCall, hold: _Hold, tokens: int) -> None:
        """``on_unknown_price="refuse"``: a cost budget cannot bound a call it cannot price."""
        bucket = hold.account.bucket
        self._breaker.report(hold, bucket, exhausted=False, good=False)  # frees the probe slot, if held
        self._refuse(call, bucket, self._cached_totals(bucket), None, tokens, "unknown_price")

    def _exceeded_error(
        self,
        totals: Totals,
        nano: int,
        tokens: int,
        reason: str,
        cause: LedgerError | None,
        model: str | None = None,
    ) -> BudgetExceeded:
        limits = self._limits
        held_nano = totals.spent_nano + totals.reserved_nano + nano
        held_tokens = totals.spent_tokens + totals.reserved_tokens + tokens
        # Name the limit that refused: one this call would overrun first, else one already used up.
        if limits.nano is not None and (held_nano > limits.nano or reason == "unknown_price"):
            cost_bound = True
        elif limits.tokens is not None and held_tokens > limits.tokens:
            cost_bound = False
        elif limits.tokens is not None and totals.spent_tokens >= limits.tokens:
            cost_bound = limits.nano is not None and totals.spent_nano >= limits.nano
        else:
            cost_bound = limits.nano is not None
        if cost_bound:
            assert limits.nano is not None
            kind, spent, limit = "cost", nano_to_usd(totals.spent_nano), nano_to_usd(limits.nano)
            detail = (
                f"spent ${_usd(totals.spent_nano)} + reserved ${_usd(totals.reserved_nano)}"
                f" + this call up to ${_usd(nano)} > limit ${_usd(limits.nano)}"
            )
        else:
            assert limits.tokens is not None
            kind, spent, limit = "tokens", float(totals.spent_tokens), float(limits.tokens)
            detail = (
                f"spent {totals.spent_tokens} tokens + reserved {totals.reserved_tokens} tokens"
                f" + this call up to {tokens} tokens > limit {limits.tokens} tokens"
            )
        what = f"budget {self.name!r} ({self.window} window)"
        outcome = (
            "the request was not sent"
            if self.on_exceeded == "raise"
            else "the request proceeds (on_exceeded='warn')"
        )
        if reason == "circuit_open":
            message = f"{what} is exhausted (circuit open): {detail}; {outcome}"
        elif reason == "stream_cut":
            message = f"{what} ran out while streaming: the stream was cut ({detail})"
        elif reason == "ledger_unavailable":
            message = f"{what}: the budget ledger is unavailable ({cause}); failing closed, request not sent"
        elif reason == "unknown_price":
            message = (
                f"{what} cannot bound the cost of a call to model {model!r}: its price is unknown"
                f" (on_unknown_price='refuse'); {outcome}"
            )
        elif reason == "stream":
            message = f"{what} exceeded while streaming: {detail}; the stream proceeds (on_exceeded='warn')"
        elif self.on_exceeded == "warn":
            message = f"{what} exceeded: {detail}; {outcome}"
        else:
            message = f"{what} would be exceeded: {detail}; {outcome}"
        error_type = BudgetLedgerUnavailable if reason == "ledger_unavailable" else BudgetExceeded
        return error_type(
            message, spent=spent, limit=limit, limit_kind=kind, window=self.window, budget_name=self.name
        )

    def _no_room_after_settled(self, totals: Totals, nano: int, tokens: int) -> bool:
        """Whether settled spend alone leaves no room for ``nano``/``tokens`` (reservations aside)."""
        limits = self._limits
        if limits.nano is not None and totals.spent_nano + nano > limits.nano:
            return True
        return limits.tokens is not None and totals.spent_tokens + tokens > limits.tokens

    def _exhausted(self, totals: Totals) -> bool:
        limits = self._limits
        if limits.nano is not None and totals.spent_nano >= limits.nano:
            return True
        return limits.tokens is not None and totals.spent_tokens >= limits.tokens

    def _over(self, totals: Totals) -> bool:
        return not self._limits.admits(totals, 0, 0)

    def _remaining(self, totals: Totals) -> float | None:
        limit = self._limits.nano
        if limit is None:
            return None
        return (
            max(0, limit - totals.spent_nano - totals.reserved_nano) / NANO_PER_USD
        )  # nano_to_usd, in place

    def _remember(self, bucket: str, totals: Totals) -> None:
        self._last_totals = (bucket, totals)

    def _cached_totals(self, bucket: str) -> Totals:
        ref = self._entry_ref
        if ref is not None and ref[0].bucket == bucket and ref[1].live:
            # A memory ledger's account, read in place: the ledger's own figures (its direct path
            # does not record them on every call).
            return ref[1].totals()
        last_bucket, totals = self._last_totals
        return totals if last_bucket == bucket else Totals()

    def _emit(
        self, kind: str, call: LLMCall, bucket: str, totals: Totals, nano: int | None, reason: str | None
    ) -> None:
        to_listeners = kind in _events.wanted_kinds
        if call.span is None and not to_listeners:
            return
        # Dollar figures divided in place rather than through nano_to_usd: a settlement emits on every call.
        amount_usd = None if nano is None else nano / NANO_PER_USD
        limit_nano = self._limits.nano
        # _remaining, inlined (a reservation noted on the span does not need it).
        remaining_usd = (
            None
            if limit_nano is None or (kind == "reserved" and not to_listeners)
            else max(0, limit_nano - totals.spent_nano - totals.reserved_nano) / NANO_PER_USD
        )
        routine = kind in ROUTINE_KINDS
        if routine and call.span is not None:
            if kind == "settled":
                # note_on_span's settlement case, in place (every traced call): the span names the budget
                # with the least left (a token-only budget, when none reports USD).
                notes = call.budget_attributes
                if notes is None:
                    notes = call.budget_attributes = {}
                tightest = notes.get(_REMAINING_USD)
                if remaining_usd is not None and (tightest is None or remaining_usd < tightest):
                    notes[_BUDGET_NAME] = self.name
                    notes[_REMAINING_USD] = remaining_usd
                elif _BUDGET_NAME not in notes:
                    notes[_BUDGET_NAME] = self.name
            else:
                note_on_span(call, kind, self.name, amount_usd, remaining_usd)
            if not to_listeners:
                return
        # BudgetEvent(...), its fields in order, built in C: a settlement with a listener builds one per call.
        event = _new_tuple(
            BudgetEvent,
            (
                kind,
                self.name,
                self.window,
                bucket,
                totals.spent_nano / NANO_PER_USD,  # spent_usd
                totals.reserved_nano / NANO_PER_USD,  # reserved_usd
                None if limit_nano is None else limit_nano / NANO_PER_USD,  # limit_usd
                remaining_usd,
                totals.spent_tokens,
                self._limits.tokens,  # limit_tokens
                amount_usd,
                call.provider,
                call.response_model or call.request_model,  # model: call.model
                reason,
            ),
        )
        if not routine:
            emit(event, call)
            return
        # emit()'s loop, in place for the routine kinds (no span event to add): a settlement with a listener
        # (Prometheus listens) emits on every call.
        for listener, kinds in _events._listeners:
            if kind in kinds:
                try:
                    listener(event)
                except Exception as exc:
                    report_internal_error("budget.listener", exc)

    def __repr__(self) -> str:
        limits = []
        if self._limits.nano is not None:
            limits.append(f"max_cost_usd={nano_to_usd(self._limits.nano)}")
        if self._limits.tokens is not None:
            limits.append(f"max_tokens={self._limits.tokens}")
        return f"BudgetScope({self.name!r}, {', '.join(limits)}, window={self.window!r})"


# The batch of budgets (admit_budgets / settle_budgets) lives in synapsekit._budget.nest, which attaches it to
# BudgetScope when it is imported: importing it here makes every BudgetScope a batched scope.
from synapsekit._budget import nest as _nest  # noqa: E402,F401  (after BudgetScope, which nest imports)

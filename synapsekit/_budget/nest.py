"""Budgets in scope together: a call admitted against every budget of a nest, and settled, in one ledger operation.

:class:`Budgets` is the budgets' :class:`~synapsekit._core.scope.ScopeBatch`: the core hands it every budget in
scope at once (:func:`admit_budgets` before the request, :func:`settle_budgets` when the call ends). A nest of
budgets on one :class:`~synapsekit._budget.ledger.MemoryLedger` (that very class) with every breaker closed is
admitted and settled on the ledger's entries directly, by a plan made once per nest and window
(:func:`_admit_in_memory`, :func:`_settle_in_memory`); budgets on one other ledger with closed breakers in one
``reserve_many``/``settle_many`` (:func:`_admit_closed`); anything else (an open breaker, several ledgers) by
:func:`_admit_in_general` / :func:`_settle_in_general`. One budget alone never comes here: it takes
:meth:`BudgetScope.admit` / :meth:`BudgetScope.on_end`, the same steps without the lists.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from synapsekit._budget import (
    events as _events,
    scope as _scope_module,  # its _pid_tag is renewed after a fork: read it there
)
from synapsekit._budget.circuit import Admission, CircuitBreaker
from synapsekit._budget.ledger import (
    Account,
    Ledger,
    LedgerError,
    MemoryLedger,
    Reservation,
    ReserveItem,
    ReserveOutcome,
    SettleItem,
    Totals,
    _Entry,
    reserve_many,
    settle_many,
)
from synapsekit._budget.scope import (
    _CLOSED,
    _MAX_LEDGER_AMOUNT,
    BudgetScope,
    _Hold,
    _list_hold,
    _new_hold,
    _new_tuple,
    _settle_on_entry,
    _time,
    _worst_case_nano,
)
from synapsekit._budget.tokens import count_input_tokens
from synapsekit._budget.windows import utc_now
from synapsekit._core.errors import report_internal_error
from synapsekit._pricing.prices import _resolved as _resolved_prices
from synapsekit._pricing.tables import cost_to_nano, nano_cost

if TYPE_CHECKING:
    from synapsekit._core.call import LLMCall

# Reservation ids: a per-budget random prefix, then the process and this counter (one value per call).
_call_ids = itertools.count()


def _ledger_groups(scopes: Sequence[BudgetScope]) -> list[tuple[Ledger, list[int]]]:
    """The indexes of ``scopes`` by ledger, in order of first appearance (usually one ledger for all)."""
    ledger = scopes[0].ledger
    for scope in scopes:
        if scope.ledger is not ledger:
            break
    else:
        return [(ledger, list(range(len(scopes))))]
    groups: dict[int, tuple[Ledger, list[int]]] = {}
    for index, scope in enumerate(scopes):
        groups.setdefault(id(scope.ledger), (scope.ledger, []))[1].append(index)
    return list(groups.values())


def _free_probes(scopes: Sequence[BudgetScope], holds: Sequence[_Hold]) -> None:
    """These admissions will not go on: a hold that took its breaker's probe slot gives it back."""
    for scope, hold in zip(scopes, holds, strict=False):
        breaker = scope._breaker
        if breaker._probe is hold:
            breaker.report(hold, hold.account.bucket, exhausted=False, good=False)


def admit_budgets(scopes: Sequence[BudgetScope], call: LLMCall) -> None:
    """Admit ``call`` against every budget in ``scopes`` (outermost first), or refuse it against all.

    The circuit breakers answer first, then the call's worst case is computed once and reserved in one
    :meth:`~synapsekit._budget.ledger.Ledger.reserve_many` per ledger, all-or-nothing: when a budget
    refuses, no budget keeps a reservation (a batch on another ledger already made is settled to zero),
    and the first refusing budget, outermost first, raises (``"raise"``) as a lone budget would.
    """
    if len(scopes) == 1:
        scopes[0].admit(call)  # one budget alone takes its own shorter path
        return
    ledger = scopes[0].ledger
    if type(ledger) is MemoryLedger and _admit_in_memory(scopes, ledger, call):
        return
    for scope in scopes:
        if scope._breaker._state is not _CLOSED or scope.ledger is not ledger:
            _admit_in_general(scopes, call)
            return
    _admit_closed(scopes, ledger, call)


# One budget of a nest, as _admit_in_memory and _settle_in_memory use it: the budget, its account and the
# ledger's entry for it in the plan's window, its breaker, its holds, its limits
# (_UNLIMITED for none) and whether it is a "warn" budget (its reservations are forced).
_Member = tuple[BudgetScope, Account, _Entry, CircuitBreaker, dict[int, _Hold], int, int, bool]


class NestPlan:
    """What admitting a nest of budgets on one MemoryLedger needs that does not change from call to call
    within a window, per budget (a :data:`_Member`). Built once per nest and window (kept by the innermost
    budget), so that a call only checks it still applies, then reserves."""

    __slots__ = ("ends", "ledger", "members", "output_tokens", "scopes", "starts")

    def __init__(
        self,
        scopes: list[BudgetScope],
        ledger: MemoryLedger,
        members: list[_Member],
        starts: float,
        ends: float,
        output_tokens: int | None,
    ) -> None:
        self.scopes = scopes
        self.ledger = ledger
        self.members = members
        # [starts, ends): epoch seconds in which every member's account is surely current.
        self.starts = starts
        self.ends = ends
        # The output tokens reserved for a request without max_tokens: None when the budgets differ.
        self.output_tokens = output_tokens


def _nest_plan(scopes: Sequence[BudgetScope], ledger: MemoryLedger, wall: float) -> NestPlan | None:
    """The plan for ``scopes`` at ``wall``: the innermost budget's, if it still applies, else a new one.
    None when a budget is on another ledger or keeps its own clock (its window cannot be told from the
    wall time)."""
    innermost = scopes[-1]
    plan = innermost._nest_plan
    if (
        plan is not None
        and plan.starts <= wall < plan.ends
        and plan.ledger is ledger
        and plan.scopes == scopes
    ):
        return plan
    if len({id(scope) for scope in scopes}) != len(scopes):
        return None  # the same budget entered twice: one hold for two reservations, made by id
    starts, ends = -math.inf, math.inf
    accounts: list[Account] = []
    for scope in scopes:
        if scope._clock is not utc_now or scope.ledger is not ledger:
            return None
        account = scope._account(scope._clock())
        current = scope._current_account
        if current is None or current[0] is not account:  # pragma: no cover - _account leaves it current
            return None
        starts, ends = max(starts, current[1]), min(ends, current[2])
        accounts.append(account)
    outputs = {scope.default_max_output_tokens for scope in scopes}
    with ledger._lock:
        for scope, account in zip(scopes, accounts, strict=True):
            # Each budget's entry, where its read-outs and messages find it too (_cached_totals).
            scope._entry_ref = (account, ledger.entry(account))
        members: list[_Member] = [
            (
                scope,
                account,
                ledger.entry(account),
                scope._breaker,
                scope._holds,
                scope._limit_nano,
                scope._limit_tokens,
                scope.on_exceeded == "warn",
            )
            for scope, account in zip(scopes, accounts, strict=True)
        ]
    plan = innermost._nest_plan = NestPlan(
        list(scopes), ledger, members, starts, ends, outputs.pop() if len(outputs) == 1 else None
    )
    return plan


def _admit_in_memory(scopes: Sequence[BudgetScope], ledger: MemoryLedger, call: LLMCall) -> bool:
    """:func:`admit_budgets` on one MemoryLedger (that very class) with every breaker closed: the nest's
    plan, then one pass under the ledger's lock that reserves on each budget's entry (MemoryLedger's
    reserve_many arithmetic, all or nothing) and records the holds; no record is built but the holds.

    False, having done nothing, when this path does not apply: a budget on another ledger or with its own
    clock, a breaker not closed, budgets reserving different output tokens, a model without a price.
    """
    wall = _time()
    plan = _nest_plan(scopes, ledger, wall)
    if plan is None:
        return False
    output_tokens = call.max_output_tokens
    if output_tokens is None:
        output_tokens = plan.output_tokens
        if output_tokens is None:
            return False
    input_tokens = count_input_tokens(call.prompt_source, call.request_model)
    nano = _worst_case_nano(call.provider, call.request_model, input_tokens, output_tokens)
    if nano is None:
        return False  # each budget decides what an unknown price means to it
    tokens = input_tokens + output_tokens
    key = id(call)
    made = 0  # how many budgets hold a reservation
    refused: tuple[BudgetScope, _Hold, Totals] | None = None
    forced: list[tuple[BudgetScope, _Hold, Totals]] | None = None  # "warn" budgets, with their totals
    with ledger._lock:
        now = ledger._clock()
        if now >= ledger._next_prune:
            ledger._prune(now)
        for scope, account, entry, breaker, holds, limit_nano, limit_tokens, force in plan.members:
            if breaker._state is not _CLOSED:
                _unreserve(scopes, made, key)
                return False
            if not entry.live:
                # Dropped since the plan was made (a window pruned): look it up again, and plan anew.
                entry = ledger.entry(account)
                scope._entry_ref = (account, entry)
                scopes[-1]._nest_plan = None
            hold = _new_hold(_Hold)
            # Set on the hold, not left to the class's defaults: an attribute read from the class through
            # an instance is not specialized by the interpreter (3.11), and settling reads these.
            hold.account, hold.entry, hold.priced, hold.unlisted = account, entry, True, True
            hold.input_tokens, hold.output_tokens, hold.nano, hold.tokens = (
                input_tokens,
                output_tokens,
                nano,
                tokens,
            )
            reserved_nano, reserved_tokens = entry.reserved_nano + nano, entry.reserved_tokens + tokens
            if not force and (
                entry.spent_nano + reserved_nano > limit_nano
                or entry.spent_tokens + reserved_tokens > limit_tokens
            ):
                _unreserve(scopes, made, key)
                before = _new_tuple(
                    Totals, (entry.spent_nano, entry.reserved_nano, entry.spent_tokens, entry.reserved_tokens)
                )
                refused = (scope, hold, before)
                break
            entry.unlisted += 1  # the hold keeps the amounts (see MemoryLedger.entry)
            entry.reserved_nano = reserved_nano
            entry.reserved_tokens = reserved_tokens
            holds[key] = hold  # one dict store: atomic under the GIL
            made += 1
            if force:
                after = _new_tuple(
                    Totals, (entry.spent_nano, reserved_nano, entry.spent_tokens, reserved_tokens)
                )
                (forced := forced or []).append((scope, hold, after))
    if refused is not None:
        _refused_at(*refused, call)  # raises
    streamed = call.streamed
    wanted = "reserved" in _events.wanted_kinds
    if not (streamed or wanted or forced or call.span is not None):
        return True
    try:
        for scope, warned_hold, totals in forced or ():
            _warn_if_over(scope, warned_hold, totals, call)
        for scope in scopes:
            hold = scope._holds[key]
            if streamed:
                scope._watch(call, hold.output_tokens)
            bucket = hold.account.bucket
            scope._emit(
                "reserved", call, bucket, scope._cached_totals(bucket) if wanted else _NO_TOTALS, nano, None
            )
    except BaseException:
        # A warning raised as an error: nothing of this admission may stay held.
        with ledger._lock:
            _unreserve(scopes, made, key)
        raise
    return True


# The totals given to a "reserved" event that only the span hears of (it notes the amount alone).
_NO_TOTALS: Final = Totals()


def _unreserve(scopes: Sequence[BudgetScope], made: int, key: int) -> None:
    """The caller holds the memory ledger's lock: take back the reservations :func:`_admit_in_memory` made
    for the first ``made`` budgets of ``scopes``, and their holds."""
    for scope in scopes[:made]:
        hold = scope._holds.pop(key, None)
        if hold is None or hold.entry is None or not hold.unlisted:
            continue  # pragma: no cover - every hold of the nest is there, unlisted, until this returns
        entry = hold.entry
        entry.unlisted -= 1
        entry.reserved_nano -= hold.nano
        entry.reserved_tokens -= hold.tokens
        hold.unlisted = False


def _admit_closed(scopes: Sequence[BudgetScope], ledger: Ledger, call: LLMCall) -> None:
    """:func:`admit_budgets` when every breaker is closed and one ledger holds every budget (the common
    case): one pass builds the holds and the ledger's items, one ledger operation, one pass records."""
    wall = _time()
    call_id = f"{_scope_module._pid_tag}{next(_call_ids)}"
    provider, model = call.provider, call.request_model
    input_tokens = count_input_tokens(call.prompt_source, model)
    max_output_tokens = call.max_output_tokens
    # The worst case depends only on the output tokens reserved: the same for every budget, mostly.
    last_output: int | None = None
    nano: int | None = None
    holds: list[_Hold] = []
    items: list[ReserveItem] = []
    for scope in scopes:
        # BudgetScope._account_at, inlined for its common case.
        current = scope._current_account
        if current is not None and current[1] <= wall < current[2] and scope._clock is utc_now:
            account = current[0]
        else:
            account = scope._account(scope._clock())
        output_tokens = scope.default_max_output_tokens if max_output_tokens is None else max_output_tokens
        if output_tokens != last_output:
            last_output = output_tokens
            nano = _worst_case_nano(provider, model, input_tokens, output_tokens)
        hold = _new_hold(_Hold)
        hold_id = hold.id = scope._id_prefix + call_id
        hold.account = account
        hold.input_tokens, hold.output_tokens = input_tokens, output_tokens
        tokens = hold.tokens = input_tokens + output_tokens
        if nano is None:
            if scope.on_unknown_price == "refuse" and scope._limits.nano is not None:
                scope._refuse_unknown_price(call, hold, tokens)  # raises: nothing is reserved yet
            held_nano = 0
        else:
            hold.priced = True
            held_nano = hold.nano = nano
        holds.append(hold)
        reservation = _new_tuple(Reservation, (hold_id, held_nano, tokens, wall + scope.reservation_ttl_s))
        items.append(
            _new_tuple(ReserveItem, (account, reservation, scope._limits, scope.on_exceeded == "warn"))
        )
    try:
        answers = reserve_many(ledger, items)
    except LedgerError as exc:
        for scope, hold in zip(scopes, holds, strict=True):
            # Raises when failing closed (nothing was reserved); else logs and goes on unreserved.
            scope._ledger_failed(call, hold, exc)
            hold.in_ledger = False
        answers = None
    if answers is not None:
        for index, answer in enumerate(answers):
            if not answer[0]:  # ReserveOutcome.admitted: the batch was refused, nothing is held
                _refused_at(scopes[index], holds[index], answer.totals, call)
    # Recorded once every budget has admitted the call. Read once for every budget: the same for all.
    key, streamed = id(call), call.streamed
    noted = call.span is not None or "reserved" in _events.wanted_kinds
    try:
        for index, scope in enumerate(scopes):
            hold = holds[index]
            if answers is not None:
                totals = answers[index][1]
                scope._last_totals = (hold.account.bucket, totals)  # _remember, inlined
                if scope.on_exceeded == "warn":
                    _warn_if_over(scope, hold, totals, call)
                if scope._ledger_error_logged:
                    scope._ledger_error_logged = False
            scope._holds[key] = hold  # one dict store: atomic under the GIL, no lock needed
            if hold.in_ledger:
                if streamed:
                    scope._watch(call, hold.output_tokens)
                if noted:
                    scope._emit("reserved", call, hold.account.bucket, scope._last_totals[1], hold.nano, None)
    except BaseException:
        # A warning raised as an error: nothing of this admission may stay held.
        for scope in scopes:
            scope._holds.pop(key, None)
        if answers is not None:
            _release(ledger, items)
        raise


def _refused_at(scope: BudgetScope, hold: _Hold, totals: Totals, call: LLMCall) -> None:
    """The ledger refused the batch at ``scope``, the first budget to refuse (nothing was reserved): raise
    (``"raise"``; a ``"warn"`` budget's item is forced, never refused)."""
    bucket = hold.account.bucket
    scope._last_totals = (bucket, totals)
    # Only a refusal over settled spend opens the circuit: reservations in flight may yet be released.
    exhausted = scope._no_room_after_settled(totals, hold.nano, hold.tokens)
    scope._breaker.report(hold, bucket, exhausted=exhausted, good=False)
    scope._refuse(call, bucket, totals, hold.nano, hold.tokens, "over_limit")
    raise AssertionError("a refusal is never forced")  # pragma: no cover


def _warn_if_over(scope: BudgetScope, hold: _Hold, totals: Totals, call: LLMCall) -> None:
    """A ``"warn"`` budget whose reservation (forced) took it over its limit warns once."""
    limits = scope._limits
    if not hold.warned and (
        (limits.nano is not None and totals.spent_nano + totals.reserved_nano > limits.nano)
        or (limits.tokens is not None and totals.spent_tokens + totals.reserved_tokens > limits.tokens)
    ):
        scope._refuse(call, hold.account.bucket, totals, hold.nano, hold.tokens, "over_limit", own=True)
        hold.warned = True


def _admit_in_general(scopes: Sequence[BudgetScope], call: LLMCall) -> None:
    """:func:`admit_budgets` with a breaker not closed, or budgets on several ledgers."""
    wall = _time()
    call_id = f"{_scope_module._pid_tag}{next(_call_ids)}"
    holds: list[_Hold] = []
    blocked: int | None = None  # the first budget whose open circuit refuses the call outright
    for scope in scopes:
        account = scope._account_at(
            wall
        )  # not the common path (an open breaker, several ledgers): no inlining
        hold = _new_hold(_Hold)
        hold.id = scope._id_prefix + call_id
        hold.account = account
        breaker = scope._breaker
        if breaker._state is not _CLOSED and breaker.enter(account.bucket, hold) is Admission.REFUSE:
            if scope.on_exceeded == "raise":
                # Exhausted: no estimate or ledger for it. The budgets outside it still answer first, as
                # they would one by one: the outermost refusing budget is the one that raises.
                blocked = len(holds)
                holds.append(hold)
                break
            # "warn" goes on, having warned.
            try:
                scope._refuse(
                    call, account.bucket, scope._cached_totals(account.bucket), None, 0, "circuit_open"
                )
            except BaseException:
                _free_probes(scopes, [*holds, hold])
                raise
            hold.warned = True
        holds.append(hold)
    reserved: list[tuple[Ledger, list[ReserveItem], list[int]]] = []
    try:
        if blocked is None:
            _reserve(scopes, holds, call, wall, reserved)
        else:
            if blocked:
                _reserve(scopes[:blocked], holds[:blocked], call, wall, reserved)
            scope, hold = scopes[blocked], holds[blocked]
            bucket = hold.account.bucket
            scope._refuse(call, bucket, scope._cached_totals(bucket), None, 0, "circuit_open")
    except BaseException:
        # Refused, the ledger unavailable (failing closed), or a warning raised as an error: nothing of
        # this admission may stay held.
        for ledger, items, _ in reserved:
            _release(ledger, items)
        _free_probes(scopes, holds)
        raise
    # Read once for every budget: the same for all of them.
    key, streamed = id(call), call.streamed
    noted = call.span is not None or "reserved" in _events.wanted_kinds
    for scope, hold in zip(scopes, holds, strict=True):
        scope._holds[key] = hold  # one dict store: atomic under the GIL, no lock needed
        if hold.in_ledger:
            if streamed:
                scope._watch(call, hold.output_tokens)
            if noted:
                scope._emit("reserved", call, hold.account.bucket, scope._last_totals[1], hold.nano, None)


def _reserve(
    scopes: Sequence[BudgetScope],
    holds: list[_Hold],
    call: LLMCall,
    wall: float,
    reserved: list[tuple[Ledger, list[ReserveItem], list[int]]],
) -> None:
    """The reservations of :func:`admit_budgets`; every batch made is added to ``reserved``."""
    # The prompt as given: when only the estimate applies, its parts' lengths are summed, never joined.
    input_tokens = count_input_tokens(call.prompt_source, call.request_model)
    max_output_tokens = call.max_output_tokens
    worst_case: dict[int, int | None] = {}  # output tokens -> nano: the same for every budget, mostly
    items: list[ReserveItem] = []
    for scope, hold in zip(scopes, holds, strict=True):
        output_tokens = scope.default_max_output_tokens if max_output_tokens is None else max_output_tokens
        hold.input_tokens, hold.output_tokens = input_tokens, output_tokens
        if output_tokens in worst_case:
            nano = worst_case[output_tokens]
        else:
            nano = worst_case[output_tokens] = _worst_case_nano(
                call.provider, call.request_model, input_tokens, output_tokens
            )
        tokens = input_tokens + output_tokens
        if nano is None:
            if scope.on_unknown_price == "refuse" and scope._limits.nano is not None:
                scope._refuse_unknown_price(call, hold, tokens)
            nano = 0
        else:
            hold.priced = True
        hold.nano, hold.tokens = nano, tokens
        reservation = _new_tuple(Reservation, (hold.id, nano, tokens, wall + scope.reservation_ttl_s))
        items.append(
            _new_tuple(ReserveItem, (hold.account, reservation, scope._limits, scope.on_exceeded == "warn"))
        )
    outcomes: list[ReserveOutcome | None] = [None] * len(scopes)
    refused: int | None = None
    for ledger, indexes in _ledger_groups(scopes):
        group = items if len(indexes) == len(items) else [items[index] for index in indexes]
        try:
            answers = reserve_many(ledger, group)
        except LedgerError as exc:
            for index in indexes:
                # Raises when failing closed (the caller releases what was reserved); else logs.
                scopes[index]._ledger_failed(call, holds[index], exc)
                holds[index].in_ledger = False
            continue
        admitted = True
        for index, outcome in zip(indexes, answers, strict=True):
            outcomes[index] = outcome
            if not outcome.admitted:
                admitted = False
        if admitted:
            reserved.append((ledger, group, indexes))
        else:
            refused = next(
                index
                for index, outcome in enumerate(outcomes)
                if outcome is not None and not outcome.admitted
            )
            break  # later ledgers are not asked
    if refused is not None:
        scope, hold, refusal = scopes[refused], holds[refused], outcomes[refused]
        assert refusal is not None
        bucket = hold.account.bucket
        scope._last_totals = (bucket, refusal.totals)
        # Only a refusal over settled spend opens the circuit: reservations in flight may yet be
        # released, and refusing everyone at once because of them would be wrong.
        exhausted = scope._no_room_after_settled(refusal.totals, hold.nano, hold.tokens)
        scope._breaker.report(hold, bucket, exhausted=exhausted, good=False)
        scope._refuse(call, bucket, refusal.totals, hold.nano, hold.tokens, "over_limit")
        raise AssertionError("a refusal is never forced")  # pragma: no cover
    for scope, hold, answer in zip(scopes, holds, outcomes, strict=True):
        if answer is None:
            continue  # the ledger failed open: the call goes on unreserved here
        totals = answer.totals
        scope._last_totals = (hold.account.bucket, totals)  # _remember, inlined
        limits = scope._limits
        if (
            scope.on_exceeded == "warn"
            and not hold.warned
            and (
                (limits.nano is not None and totals.spent_nano + totals.reserved_nano > limits.nano)
                or (
                    limits.tokens is not None and totals.spent_tokens + totals.reserved_tokens > limits.tokens
                )
            )
        ):
            scope._refuse(call, hold.account.bucket, totals, hold.nano, hold.tokens, "over_limit", own=True)
            hold.warned = True
        scope._ledger_error_logged = False


def _release(ledger: Ledger, items: Sequence[ReserveItem]) -> None:
    """Settle an admission's reservations to nothing (another ledger refused the call)."""
    # Should the ledger fail, a shared one charges them when they expire: never under-counted.
    with contextlib.suppress(LedgerError):
        settle_many(
            ledger,
            [
                SettleItem(
                    item.account, item.reservation.id, 0, 0, item.reservation.nano, item.reservation.tokens
                )
                for item in items
            ],
        )


def settle_budgets(scopes: Sequence[BudgetScope], call: LLMCall) -> None:
    """Settle ``call``'s reservations in every budget of ``scopes`` to its real cost, one ledger operation
    per ledger. A budget that holds nothing for the call (refused, released, never admitted) is skipped.
    """
    if len(scopes) == 1:
        scopes[0].on_end(call)  # one budget alone takes its own shorter path
        return
    key = id(call)
    shared = _shared_cost(call)
    holds: list[_Hold | None] = []
    if shared is None:
        # Each budget decides from what it holds.
        _settle_in_general(scopes, [scope._holds.pop(key, None) for scope in scopes], call)
        return
    # The common case, in one pass: every budget holds the call, on one ledger, and settles it at the same
    # cost (a price that cannot be right settles each at what its ledger took).
    nano, tokens = shared
    plausible = 0 <= nano <= _MAX_LEDGER_AMOUNT and 0 <= tokens <= _MAX_LEDGER_AMOUNT
    ledger = scopes[0].ledger
    if type(ledger) is MemoryLedger:
        if plausible:
            _settle_in_memory(scopes, ledger, call, nano, tokens)
        else:
            _settle_in_general(scopes, [scope._holds.pop(key, None) for scope in scopes], call)
        return
    items: list[SettleItem] = []
    for index, scope in enumerate(scopes):
        hold = scope._holds.pop(key, None)  # atomic under the GIL: exactly one of racing ends gets it
        holds.append(hold)
        if hold is None or scope.ledger is not ledger:
            holds += [later._holds.pop(key, None) for later in scopes[index + 1 :]]
            _settle_in_general(scopes, holds, call)
            return
        if hold.in_ledger:
            reserved_nano, reserved_tokens = hold.nano, hold.tokens
        else:
            reserved_nano = reserved_tokens = 0
        if plausible:
            item = (hold.account, hold.id, nano, tokens, reserved_nano, reserved_tokens)
        else:
            item = (hold.account, hold.id, hold.nano, hold.tokens, reserved_nano, reserved_tokens)
        items.append(_new_tuple(SettleItem, item))
    _settle_plain(scopes, holds, ledger, items, call)  # type: ignore[arg-type]


def _settle_in_memory(
    scopes: Sequence[BudgetScope], ledger: MemoryLedger, call: LLMCall, nano: int, tokens: int
) -> None:
    """:func:`settle_budgets` on one MemoryLedger (that very class) at one plausible cost: one pass under
    its lock takes each budget's hold and settles it on the entry it reserved on (MemoryLedger's
    settle_many arithmetic). Totals are built only for what needs them: an event, the breaker. From the
    first budget whose hold is not there or was not reserved this way, :func:`_settle_in_general` settles
    the rest."""
    plan = scopes[-1]._nest_plan
    if plan is None or plan.ledger is not ledger or plan.scopes != scopes:
        # Admitted another way (the nest's plan is what admission used): settled as usual.
        _settle_in_general(scopes, [scope._holds.pop(id(call), None) for scope in scopes], call)
        return
    key = id(call)
    wanted = call.span is not None or "settled" in _events.wanted_kinds
    # (scope, hold, exhausted, totals after settling) of the budgets with something to hear about it.
    notes: list[tuple[BudgetScope, _Hold, bool, Totals]] | None = None
    rest = len(scopes)
    left: _Hold | None = None  # the hold of budget ``rest``, taken but not settled here
    with ledger._lock:
        now = ledger._clock()
        if now >= ledger._next_prune:
            ledger._prune(now)
        for index, (scope, _, _, breaker, holds, limit_nano, limit_tokens, _) in enumerate(plan.members):
            hold = holds.pop(key, None)  # atomic under the GIL: exactly one of racing ends gets it
            if hold is None or (entry := hold.entry) is None or not (hold.unlisted or hold.in_ledger):
                rest, left = index, hold
                break
            if hold.unlisted and entry.live:
                # The common case: take the unlisted reservation back, add the cost (plausible: not negative).
                entry.unlisted -= 1
                entry.reserved_nano -= hold.nano
                entry.reserved_tokens -= hold.tokens
                entry.spent_nano = spent_nano = entry.spent_nano + nano
                entry.spent_tokens = spent_tokens = entry.spent_tokens + tokens
                hold.unlisted = False
            else:
                entry = _settle_on_entry(ledger, entry, hold, nano, tokens)
                spent_nano, spent_tokens = entry.spent_nano, entry.spent_tokens
            exhausted = spent_nano >= limit_nano or spent_tokens >= limit_tokens
            if (
                exhausted
                or wanted
                or breaker._probe is hold
                or ((nano > hold.nano or tokens > hold.tokens) and not hold.cut)
            ):
                after = _new_tuple(
                    Totals, (spent_nano, entry.reserved_nano, spent_tokens, entry.reserved_tokens)
                )
                (notes := notes or []).append((scope, hold, exhausted, after))
    if rest < len(scopes):
        holds_left = [left, *[scope._holds.pop(key, None) for scope in scopes[rest + 1 :]]]
        _settle_in_general(scopes[rest:], holds_left, call)
    if notes is None:
        return
    good = call.error is None
    for scope, hold, exhausted, totals in notes:
        bucket = hold.account.bucket
        breaker = scope._breaker
        if exhausted or breaker._probe is hold:
            breaker.report(hold, bucket, exhausted=exhausted, good=good)
        if wanted:
            scope._emit("settled", call, bucket, totals, nano, None)
        if not hold.cut and (nano > hold.nano or tokens > hold.tokens) and scope._over(totals):
            scope._emit("exceeded", call, bucket, totals, nano, "actual_cost_over_reservation")


def _shared_cost(call: LLMCall) -> tuple[int, int] | None:
    """What ``call`` really cost, in nano-dollars and tokens, when every budget settles it the same: usage
    as reported and a known price. None otherwise, or when pricing fails (each budget then decides)."""
    if call.usage_implausible or (call.error is not None and call.chunks):
        return None
    input_tokens, output_tokens = call.input_tokens, call.output_tokens
    model = call.response_model or call.request_model
    if input_tokens is not None and output_tokens is not None and model is not None:
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
            return nano, input_tokens + output_tokens
    try:
        cost = call.cost
        if cost is None:
            return None
        return cost_to_nano(cost), (input_tokens or 0) + (output_tokens or 0)
    except Exception:
        return None  # settled budget by budget, where the failure is reported


def _settle_plain(
    scopes: Sequence[BudgetScope],
    holds: Sequence[_Hold],
    ledger: Ledger,
    items: list[SettleItem],
    call: LLMCall,
) -> None:
    """:func:`settle_budgets` when every budget holds the call on one ledger: ``items`` in one operation."""
    try:
        answers: list[Totals] | None = settle_many(ledger, items)
    except LedgerError as exc:
        # The reservations stay in a shared ledger and are charged at their worst case when they expire.
        for scope in scopes:
            scope._log_ledger_error(exc)
        answers = None
    wanted = call.span is not None or "settled" in _events.wanted_kinds
    good = call.error is None
    if answers is None:
        for scope, hold in zip(scopes, holds, strict=True):
            if scope._breaker._probe is hold:
                scope._breaker.report(hold, hold.account.bucket, exhausted=False, good=good)
        return
    for scope, hold, item, totals in zip(scopes, holds, items, answers, strict=True):
        bucket = hold.account.bucket
        breaker = scope._breaker
        scope._last_totals = (bucket, totals)  # _remember, inlined
        # BudgetScope._exhausted, inlined; the breaker is told only what can move it.
        limits = scope._limits
        exhausted = (limits.nano is not None and totals.spent_nano >= limits.nano) or (
            limits.tokens is not None and totals.spent_tokens >= limits.tokens
        )
        if exhausted or breaker._probe is hold:
            breaker.report(hold, bucket, exhausted=exhausted, good=good)
        settled_nano = item[2]
        if wanted:
            scope._emit("settled", call, bucket, totals, settled_nano, None)
        if not hold.cut and (settled_nano > hold.nano or item[3] > hold.tokens) and scope._over(totals):
            scope._emit("exceeded", call, bucket, totals, settled_nano, "actual_cost_over_reservation")


def _settle_in_general(
    scopes: Sequence[BudgetScope], holds_in: Sequence[_Hold | None], call: LLMCall
) -> None:
    """:func:`settle_budgets` for any case: ``holds_in`` are what each budget held (None: nothing)."""
    held: list[BudgetScope] = []
    holds: list[_Hold] = []
    for scope, hold in zip(scopes, holds_in, strict=True):
        if hold is not None:
            if hold.unlisted:
                _list_hold(scope, hold)  # settled below by its id, with the others
            held.append(scope)
            holds.append(hold)
    if not held:
        return
    # The real cost is the same in every budget unless something is off (usage that cannot be right, a
    # stream cut before usage arrived, no price): then each budget decides from what it holds.
    shared: tuple[int, int] | None = None
    shared_error: Exception | None = None
    if not call.usage_implausible and not (call.error is not None and call.chunks):
        try:
            cost = call.cost
            if cost is not None:
                shared = (cost_to_nano(cost), (call.input_tokens or 0) + (call.output_tokens or 0))
        except Exception as exc:
            shared_error = exc
    items: list[SettleItem] = []
    failures: list[tuple[int, Exception]] = []
    for index, (scope, hold) in enumerate(zip(held, holds, strict=True)):
        if shared is not None:
            nano, tokens = shared
        elif shared_error is not None:
            nano, tokens = hold.nano, hold.tokens  # as below: the worst case, then report
            failures.append((index, shared_error))
        else:
            try:
                nano, tokens = scope._actual_cost(call, hold)
            except Exception as exc:
                # Whatever went wrong pricing the call, its reservation must not stay behind in the
                # ledger to be charged later: settle it at its worst case (never under-counting), then report.
                nano, tokens = hold.nano, hold.tokens
                failures.append((index, exc))
        if not (0 <= nano <= _MAX_LEDGER_AMOUNT and 0 <= tokens <= _MAX_LEDGER_AMOUNT):
            nano, tokens = hold.nano, hold.tokens  # a price that cannot be right: what the ledger took
        in_ledger = hold.in_ledger
        items.append(
            _new_tuple(
                SettleItem,
                (
                    hold.account,
                    hold.id,
                    nano,
                    tokens,
                    hold.nano if in_ledger else 0,
                    hold.tokens if in_ledger else 0,
                ),
            )
        )
    all_totals: list[Totals | None] = [None] * len(held)
    for ledger, indexes in _ledger_groups(held):
        group = items if len(indexes) == len(items) else [items[index] for index in indexes]
        try:
            answers = settle_many(ledger, group)
        except LedgerError as exc:
            # The reservations stay in a shared ledger and are charged at their worst case when they expire.
            for index in indexes:
                held[index]._log_ledger_error(exc)
            continue
        for index, answer in zip(indexes, answers, strict=True):
            all_totals[index] = answer
    failed = {index for index, _ in failures} if failures else ()
    wanted = "settled" in _events.wanted_kinds
    for index, (scope, hold, item, totals) in enumerate(zip(held, holds, items, all_totals, strict=True)):
        bucket = hold.account.bucket
        limits = scope._limits
        if totals is not None:
            scope._last_totals = (bucket, totals)  # _remember, inlined
        if index in failed:
            scope._breaker.report(hold, bucket, exhausted=False, good=False)
            continue
        # BudgetScope._exhausted, inlined.
        exhausted = totals is not None and (
            (limits.nano is not None and totals.spent_nano >= limits.nano)
            or (limits.tokens is not None and totals.spent_tokens >= limits.tokens)
        )
        breaker = scope._breaker
        if exhausted or breaker._probe is hold:
            breaker.report(hold, bucket, exhausted=exhausted, good=call.error is None)
        if totals is None:
            continue
        nano, tokens = item.nano, item.tokens
        if call.span is not None or wanted:
            scope._emit("settled", call, bucket, totals, nano, None)
        if not hold.cut and (nano > hold.nano or tokens > hold.tokens) and scope._over(totals):
            scope._emit("exceeded", call, bucket, totals, nano, "actual_cost_over_reservation")
    for _, failure in failures:
        report_internal_error("budget.settle", failure)


class Budgets:
    """Budgets' :class:`~synapsekit._core.scope.ScopeBatch`: one budget alone takes its own shorter path."""

    # The functions themselves (each takes one budget alone its own shorter path): no frame in between.
    admit = staticmethod(admit_budgets)
    end = staticmethod(settle_budgets)


BudgetScope.batch = Budgets()

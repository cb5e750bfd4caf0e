"""Budget events: to process-wide listeners (metrics), and on the LLM call's span.

Kinds: ``"reserved"`` (a call was admitted and its worst case set aside), ``"settled"`` (a finished call's
reservation was replaced by what it actually cost), ``"rejected"`` (a call was refused before it was
sent), ``"exceeded"`` (the limit was crossed anyway: a stream cut short, a call let through in ``"warn"``
mode, or a call whose real cost overran its reservation).

Every admitted call is reserved and settled, so those two routine kinds never become span events (each
costs the OpenTelemetry SDK an event object and an attribute validation per field): their outcome is a
few attributes on the call's span instead (:func:`note_on_span`). Refusals and overruns, which someone
reading a trace needs to see, are span events with the full picture. A listener may ask for some kinds
only, so an event nobody wants is never built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from synapsekit import semconv
from synapsekit._core.errors import report_internal_error

if TYPE_CHECKING:
    from synapsekit._core.call import LLMCall

EVENT_NAMES: Final = {
    "reserved": semconv.EVENT_BUDGET_RESERVED,
    "settled": semconv.EVENT_BUDGET_SETTLED,
    "rejected": semconv.EVENT_BUDGET_REJECTED,
    "exceeded": semconv.EVENT_BUDGET_EXCEEDED,
}


class BudgetEvent(NamedTuple):
    """What happened to one budget, with its state right after (an immutable record).

    ``spent_usd`` is settled spend in the current window; ``reserved_usd`` what in-flight calls hold;
    ``remaining_usd`` is ``limit_usd - spent_usd - reserved_usd`` floored at 0 (``None`` without a cost
    limit). ``amount_usd`` is this event's own amount: the reservation, the settled cost, or the worst case
    that was refused (``None`` when the price is unknown). Token fields mirror the cost ones.

    A NamedTuple rather than a frozen dataclass: one is built on every settlement that has a listener
    (Prometheus has), in about a third of the time.
    """

    kind: str
    budget_name: str
    window: str
    bucket: str
    spent_usd: float
    reserved_usd: float
    limit_usd: float | None
    remaining_usd: float | None
    spent_tokens: int
    limit_tokens: int | None
    amount_usd: float | None
    provider: str | None
    model: str | None
    reason: str | None = None

    def span_attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "synapsekit.budget.name": self.budget_name,
            "synapsekit.budget.window": self.window,
            "synapsekit.budget.spent_usd": self.spent_usd,
            "synapsekit.budget.reserved_usd": self.reserved_usd,
            "synapsekit.budget.spent_tokens": self.spent_tokens,
        }
        if self.limit_usd is not None:
            attributes["synapsekit.budget.limit_usd"] = self.limit_usd
        if self.remaining_usd is not None:
            attributes["synapsekit.budget.remaining_usd"] = self.remaining_usd
        if self.limit_tokens is not None:
            attributes["synapsekit.budget.limit_tokens"] = self.limit_tokens
        if self.amount_usd is not None:
            attributes["synapsekit.budget.amount_usd"] = self.amount_usd
        if self.reason is not None:
            attributes["synapsekit.budget.reason"] = self.reason
        return attributes


ROUTINE_KINDS: Final = frozenset({"reserved", "settled"})
ALL_KINDS: Final = frozenset(EVENT_NAMES)
BudgetListener = Callable[[BudgetEvent], None]

_lock = threading.Lock()
# Replaced, never mutated, so emitting iterates a snapshot without taking the lock.
_listeners: tuple[tuple[BudgetListener, frozenset[str]], ...] = ()
# The kinds at least one listener asked for; replaced, never mutated. Budgets test ``kind in
# _events.wanted_kinds`` in place on every call, so an event nobody wants is never built.
wanted_kinds: frozenset[str] = frozenset()


def add_budget_listener(listener: BudgetListener, kinds: Iterable[str] | None = None) -> None:
    """Call ``listener(event)`` for every budget event of ``kinds`` (default: all) in this process.

    Idempotent: adding a listener again replaces the kinds it listens to.
    """
    wanted = ALL_KINDS if kinds is None else frozenset(kinds)
    unknown = wanted - ALL_KINDS
    if unknown:
        raise ValueError(
            f"unknown budget event kinds {sorted(unknown)}; expected some of {sorted(ALL_KINDS)}"
        )
    with _lock:
        _replace((*((other, k) for other, k in _listeners if other != listener), (listener, wanted)))


def remove_budget_listener(listener: BudgetListener) -> None:
    with _lock:
        _replace(tuple((other, k) for other, k in _listeners if other != listener))


def _replace(listeners: tuple[tuple[BudgetListener, frozenset[str]], ...]) -> None:
    global _listeners, wanted_kinds
    _listeners = listeners
    wanted_kinds = frozenset().union(*(kinds for _, kinds in listeners))


def note_on_span(
    call: LLMCall, kind: str, budget_name: str, amount_usd: float | None, remaining_usd: float | None
) -> None:
    """Record a routine event as span attributes: the reservation, and the tightest budget after settling.

    With several budgets in scope the span names the one with the least left, which is the one a reader
    of the trace needs to know about.
    """
    notes = call.budget_attributes
    if notes is None:
        notes = call.budget_attributes = {}
    if kind == "reserved":
        if amount_usd is not None and amount_usd > notes.get(semconv.SYNAPSEKIT_BUDGET_RESERVED_USD, -1.0):
            notes[semconv.SYNAPSEKIT_BUDGET_RESERVED_USD] = amount_usd
        return
    tightest = notes.get(semconv.SYNAPSEKIT_BUDGET_REMAINING_USD)
    if remaining_usd is not None and (tightest is None or remaining_usd < tightest):
        notes[semconv.SYNAPSEKIT_BUDGET_NAME] = budget_name
        notes[semconv.SYNAPSEKIT_BUDGET_REMAINING_USD] = remaining_usd
    elif semconv.SYNAPSEKIT_BUDGET_NAME not in notes:
        notes[semconv.SYNAPSEKIT_BUDGET_NAME] = budget_name  # a token-only budget has no USD left to report


def emit(event: BudgetEvent, call: LLMCall | None) -> None:
    """Give ``event`` to the listeners that want its kind; a non-routine event also goes on ``call``'s span."""
    span = call.span if call is not None and event.kind not in ROUTINE_KINDS else None
    if span is not None:
        try:
            span.add_event(EVENT_NAMES[event.kind], attributes=event.span_attributes())
        except Exception as exc:
            report_internal_error("budget.span_event", exc)
    kind = event.kind
    for listener, kinds in _listeners:
        if kind not in kinds:
            continue
        try:
            listener(event)
        except Exception as exc:
            report_internal_error("budget.listener", exc)

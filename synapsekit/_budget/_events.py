"""Budget events: on the LLM call's span, and to process-wide listeners (metrics).

Kinds: ``"reserved"`` (a call was admitted and its worst case set aside), ``"settled"`` (a finished call's
reservation was replaced by what it actually cost), ``"rejected"`` (a call was refused before it was
sent), ``"exceeded"`` (the limit was crossed anyway: a stream cut short, a call let through in ``"warn"``
mode, or a call whose real cost overran its reservation).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from synapsekit import semconv
from synapsekit._errors import report_internal_error

if TYPE_CHECKING:
    from synapsekit._call import LLMCall

EVENT_NAMES: Final = {
    "reserved": semconv.EVENT_BUDGET_RESERVED,
    "settled": semconv.EVENT_BUDGET_SETTLED,
    "rejected": semconv.EVENT_BUDGET_REJECTED,
    "exceeded": semconv.EVENT_BUDGET_EXCEEDED,
}


@dataclass(frozen=True, slots=True)
class BudgetEvent:
    """What happened to one budget, with its state right after.

    ``spent_usd`` is settled spend in the current window; ``reserved_usd`` what in-flight calls hold;
    ``remaining_usd`` is ``limit_usd - spent_usd - reserved_usd`` floored at 0 (``None`` without a cost
    limit). ``amount_usd`` is this event's own amount: the reservation, the settled cost, or the worst case
    that was refused (``None`` when the price is unknown). Token fields mirror the cost ones.
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
        if self.kind in _ROUTINE_KINDS:
            # Every admitted call has a reservation and a settlement: keep those events small (each span
            # attribute costs the OpenTelemetry SDK a validation). Refusals carry the full picture below.
            routine: dict[str, Any] = {"synapsekit.budget.name": self.budget_name}
            if self.amount_usd is not None:
                routine["synapsekit.budget.amount_usd"] = self.amount_usd
            if self.remaining_usd is not None:
                routine["synapsekit.budget.remaining_usd"] = self.remaining_usd
            return routine
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


_ROUTINE_KINDS = frozenset({"reserved", "settled"})
BudgetListener = Callable[[BudgetEvent], None]

_lock = threading.Lock()
# Replaced, never mutated, so emitting iterates a snapshot without taking the lock.
_listeners: tuple[BudgetListener, ...] = ()


def add_budget_listener(listener: BudgetListener) -> None:
    """Call ``listener(event)`` for every budget event in this process (idempotent)."""
    global _listeners
    with _lock:
        if listener not in _listeners:
            _listeners = (*_listeners, listener)


def remove_budget_listener(listener: BudgetListener) -> None:
    global _listeners
    with _lock:
        _listeners = tuple(existing for existing in _listeners if existing != listener)


def has_listeners() -> bool:
    return bool(_listeners)


def emit(event: BudgetEvent, call: LLMCall | None) -> None:
    span = call.span if call is not None else None
    if span is not None:
        try:
            span.add_event(EVENT_NAMES[event.kind], attributes=event.span_attributes())
        except Exception as exc:
            report_internal_error("budget.span_event", exc)
    for listener in _listeners:
        try:
            listener(event)
        except Exception as exc:
            report_internal_error("budget.listener", exc)

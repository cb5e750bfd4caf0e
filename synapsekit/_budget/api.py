"""``synapsekit.budget(...)``: the ambient door into budgets."""

from __future__ import annotations

from decimal import Decimal

from synapsekit._budget.ledger import Ledger
from synapsekit._budget.remote import DEFAULT_PROPAGATE_TTL_S, DEFAULT_PROPAGATED_NAME, PropagatedBudget
from synapsekit._budget.scope import (
    DEFAULT_CIRCUIT_COOLDOWN_S,
    DEFAULT_MAX_OUTPUT_TOKENS,
    DEFAULT_RESERVATION_TTL_S,
    BudgetScope,
)
from synapsekit._budget.windows import Clock


def budget(
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
    propagate: bool = False,
    ledger_name: str | None = None,
    propagate_ttl_s: float = DEFAULT_PROPAGATE_TTL_S,
) -> BudgetScope:
    """A budget for every LLM call made inside ``with``/``async with`` it.

    ``with synapsekit.budget(max_cost_usd=0.50, window="day"):`` — calls in nested functions, asyncio
    tasks and threads started with :func:`synapsekit.with_current_context` are all admitted against it;
    nested budgets all apply. The same object can be entered many times: its spend accumulates.

    * ``max_cost_usd`` (USD) and/or ``max_tokens`` (input + output tokens) per ``window``: ``"session"``
      (as long as this object lives) or ``"hour"``, ``"day"``, ``"month"`` (calendar buckets in UTC).
    * ``on_exceeded``: ``"raise"`` refuses a call that would exceed the budget with ``BudgetExceeded``
      before it is sent (and cuts a stream that runs out); ``"warn"`` lets it through with a
      ``BudgetWarning``, once per event.
    * ``ledger``: a ledger object or URL (``"memory"``, ``"sqlite:///budget.db"``,
      ``"redis://127.0.0.1:6379/0"``); default: ``SYNAPSEKIT_BUDGET_LEDGER``, else this process's memory.
      ``key`` names a budget shared by every scope using the same key and ledger (without one, the budget
      is private to this object); ``name`` labels events and errors.
    * ``on_ledger_error``: ``"fail_closed"`` (refuse calls while the ledger is unreachable, with
      ``BudgetLedgerUnavailable``, a ``BudgetExceeded``) or ``"fail_open"`` (let them through, log once).
    * ``default_max_output_tokens``: output reserved for requests that set no ``max_tokens`` (4096).
    * ``reservation_ttl_s``: after this long an unsettled reservation (a crashed process) is charged.
    * ``circuit_cooldown_s``: how long the circuit stays open after a refusal over settled spend before it
      lets one probe through (60 s; the window's rollover half-opens it sooner).
    * ``on_unknown_price``: a call to a model without a known price, under a cost limit: ``"admit"`` it on
      the token limit alone, with one ``UnknownModelPriceWarning`` per model (the default), or ``"refuse"``
      it like a call over the limit.
    * ``clock``: returns the current time (tests cross window boundaries with it).
    * ``propagate``: outgoing requests made inside the budget carry its identity (W3C baggage
      ``synapsekit.budget``), and services that registered the same ledger under ``ledger_name`` admit their
      calls against it (see ``docs/budgets.md``, "Budgets across services"). Needs a Redis (or, within one
      process, the memory) ledger. ``ledger_name`` defaults to the name the ledger is registered under
      (:func:`synapsekit.register_ledger`), else ``"default"``; ``propagate_ttl_s`` is how long other services
      can join it (an hour).
    """
    if not isinstance(propagate, bool):
        raise TypeError(f"propagate must be a bool, got {propagate!r}")
    if not propagate and ledger_name is not None:
        raise ValueError("ledger_name is the name a propagated budget travels under: pass propagate=True too")
    if propagate and name is None:
        # One budget per user request: a generated name per budget would be a metric label per request.
        name = DEFAULT_PROPAGATED_NAME
    scope = BudgetScope(
        max_cost_usd,
        window=window,
        max_tokens=max_tokens,
        on_exceeded=on_exceeded,
        name=name,
        ledger=ledger,
        key=key,
        on_ledger_error=on_ledger_error,
        default_max_output_tokens=default_max_output_tokens,
        reservation_ttl_s=reservation_ttl_s,
        circuit_cooldown_s=circuit_cooldown_s,
        on_unknown_price=on_unknown_price,
        clock=clock,
    )
    if propagate:
        scope.remote = PropagatedBudget(scope, ledger_name, propagate_ttl_s)
    return scope

"""Propagated budgets meet OpenTelemetry: the budget identity in W3C baggage, out and in.

Out: :func:`outgoing_budget_identity` is what ``DistributedTracer.inject_context``, its HTTP client hook and
the global propagator (:class:`budget_baggage_propagator`) add to the ``baggage`` header when a budget opened
with ``propagate=True`` is in scope. In: ``DistributedTracer.start_span`` (and so ``TraceContextMiddleware``)
joins the named budget for the span's ``with`` block; :class:`AmbientBudgetJoin` does the same for code that
never sees the headers (zero-code mode behind an OpenTelemetry server instrumentation), from the baggage in
the current OpenTelemetry context. The budget logic itself is in :mod:`synapsekit._budget.remote`.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from synapsekit._budget.remote import BAGGAGE_KEY, join, outgoing_identity
from synapsekit._core import context as _context
from synapsekit._core.scope import Scope

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator

    from synapsekit._budget.scope import BudgetScope
    from synapsekit._core.call import LLMCall


def outgoing_budget_identity() -> str | None:
    """The wire identity of the innermost propagating budget in the current context, if any."""
    return outgoing_identity(_context.active_scopes())


@functools.cache
def _budget_baggage_propagator_type() -> type[TextMapPropagator]:
    """Defined on first use, so that importing synapsekit does not import OpenTelemetry."""
    from opentelemetry import baggage as baggage_api
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import CarrierT, Setter, default_setter

    class BudgetBaggagePropagator(W3CBaggagePropagator):
        """W3C baggage, plus the identity of a propagating budget in scope (one ``baggage`` header)."""

        def inject(
            self,
            carrier: CarrierT,
            context: Context | None = None,
            setter: Setter[CarrierT] = default_setter,
        ) -> None:
            identity = outgoing_budget_identity()
            if identity is not None:
                context = baggage_api.set_baggage(BAGGAGE_KEY, identity, context)
            super().inject(carrier, context, setter)

    return BudgetBaggagePropagator


def budget_baggage_propagator() -> TextMapPropagator:
    propagator: Any = _budget_baggage_propagator_type()
    made: TextMapPropagator = propagator()
    return made


class AmbientBudgetJoin(Scope):
    """A process-wide scope: each LLM call is admitted against the budget named by the OpenTelemetry baggage
    of its context (put there by any server instrumentation using the global propagator), if any.

    Zero-code mode installs it when ledgers are registered (``SYNAPSEKIT_LEDGERS``). Calls inside a
    ``DistributedTracer`` span that already joined the same budget are not admitted twice.
    """

    gates_calls = True
    sets_chunk_allowance = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_call: dict[int, BudgetScope] = {}

    def admit(self, call: LLMCall) -> None:
        from opentelemetry import baggage as baggage_api

        value = baggage_api.get_baggage(BAGGAGE_KEY)
        if value is None:
            return
        joined = join(value).scope
        if joined is None or any(scope is joined for scope in call.scopes):
            return
        joined.admit(call)  # may raise BudgetExceeded: the call is refused like any budget's
        with self._lock:
            self._by_call[id(call)] = joined

    def on_chunk(self, call: LLMCall) -> None:
        joined = self._by_call.get(id(call))
        if joined is not None:
            joined.on_chunk(call)

    def release(self, call: LLMCall) -> None:
        with self._lock:
            joined = self._by_call.pop(id(call), None)
        if joined is not None:
            joined.release(call)

    def on_end(self, call: LLMCall) -> None:
        with self._lock:
            joined = self._by_call.pop(id(call), None)
        if joined is not None:
            joined.on_end(call)

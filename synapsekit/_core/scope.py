"""Scopes: the accumulators that LLM calls report to.

A scope is entered around some code (a facade's ``generate``, a ``with synapsekit.track()`` block, a
budget); every LLM call started while it is active reports to it when the call ends. Scopes are shared
between the tasks and threads that inherit them, so their state is guarded by a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from synapsekit._core.context import leave_scope, push_scope
from synapsekit._pricing.preload import preload_prices

if TYPE_CHECKING:
    from types import TracebackType

    from synapsekit._core.call import LLMCall


class ScopeBatch(Protocol):
    """Admission and settlement of several scopes of one kind at once.

    A batch is only ever given two scopes or more: a scope alone of its kind in scope is admitted and
    ended by its own :meth:`Scope.admit` and :meth:`Scope.on_end` (the core builds no group for it), so
    a batch must treat one scope exactly as that scope's own hooks do.
    """

    def admit(self, scopes: Sequence[Any], call: LLMCall) -> None:
        """Admit ``call`` in every scope, or raise having released what was admitted."""

    def end(self, scopes: Sequence[Any], call: LLMCall) -> None:
        """What :meth:`Scope.on_end` does, for every scope."""


class Scope:
    """Base class. Subclasses override the hooks they need.

    ``gates_calls`` tells the core whether :meth:`admit` and :meth:`on_chunk` must be called at all, so that
    plain accumulators add nothing to the start of a call or to each stream chunk.
    """

    gates_calls: bool = False
    # A gating scope that sets this asks for the chunks it needs with LLMCall.watch_chunks_past (in admit
    # and on_chunk); any other gating scope hears about every chunk.
    sets_chunk_allowance: bool = False
    # Scopes of one kind that are cheaper to admit and settle together (budgets: one ledger operation for
    # all of them) name a ScopeBatch here; the core then calls it once per call with every scope in scope
    # that names the same one, outermost first, instead of admit/on_end one by one.
    batch: ClassVar[ScopeBatch | None] = None

    def admit(self, call: LLMCall) -> None:
        """Called before the request is sent; may raise to stop it (budgets)."""

    def on_chunk(self, call: LLMCall) -> None:
        """Called after each streamed chunk with the running estimate; may raise to cut the stream.

        With :attr:`sets_chunk_allowance`, only once the streamed text passes the allowance the scopes
        asked for (:meth:`LLMCall.watch_chunks_past`) or after usage was reported mid-stream.
        """

    def release(self, call: LLMCall) -> None:
        """Undo :meth:`admit` for a call that will not report here (rejected elsewhere, or delegated)."""

    def on_end(self, call: LLMCall) -> None:
        """Called exactly once when the call has finished or failed."""

    # -- entering and leaving -------------------------------------------------------------------------
    # Nothing about an entry is stored on the scope object: one scope (say a TokenTracer's) is entered by
    # many concurrent tasks at once. Leaving truncates this context's tuple back to where we were pushed.
    def __enter__(self) -> Any:
        push_scope(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        leave_scope(self)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class Tally(Scope):
    """Tokens, cost and call counts of every LLM call made while it is active.

    ``with synapsekit.track() as tally:`` opens one; :class:`~synapsekit.observability.TokenTracer` and
    :class:`~synapsekit.observability.CostTracker` are built on it. Calls whose price is unknown add their
    tokens but no cost; they are counted in :attr:`unknown_cost_calls` so a total is never silently low.
    """

    def __init__(self, *, keep_calls: bool = False) -> None:
        preload_prices()  # a tally prices every call it sees: have the data ready before the first one
        self._lock = threading.Lock()
        self._keep_calls = keep_calls
        self._reset_unlocked()

    def _reset_unlocked(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.cached_input_tokens = 0
        self.cache_creation_input_tokens = 0
        self.reasoning_tokens = 0
        self.calls = 0
        self.failed_calls = 0
        self.rejected_calls = 0
        self.estimated_calls = 0
        self.unknown_cost_calls = 0
        self.cost_usd_decimal = Decimal(0)
        self.finished_calls: list[LLMCall] = []

    def reset(self) -> None:
        with self._lock:
            self._reset_unlocked()

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cost_usd(self) -> float:
        """Known cost in USD; see :attr:`unknown_cost_calls` for calls that could not be priced."""
        return float(self.cost_usd_decimal)

    @property
    def tokens(self) -> dict[str, int]:
        with self._lock:
            return {
                "input": self.input_tokens,
                "output": self.output_tokens,
                "total": self.input_tokens + self.output_tokens,
            }

    def on_end(self, call: LLMCall) -> None:
        with self._lock:
            if call.rejected:
                self.rejected_calls += 1
                return
            self.calls += 1
            self.input_tokens += call.input_tokens or 0
            self.output_tokens += call.output_tokens or 0
            self.cached_input_tokens += call.cached_input_tokens
            self.cache_creation_input_tokens += call.cache_creation_input_tokens
            self.reasoning_tokens += call.reasoning_tokens
            if call.error_type is not None:
                self.failed_calls += 1
            if call.usage_estimated:
                self.estimated_calls += 1
            if call.cost is None:
                self.unknown_cost_calls += 1
            else:
                self.cost_usd_decimal += call.cost
            if self._keep_calls:
                self.finished_calls.append(call)

    def __repr__(self) -> str:
        return (
            f"Tally(calls={self.calls}, input_tokens={self.input_tokens}, output_tokens={self.output_tokens},"
            f" cost_usd={self.cost_usd_decimal}, unknown_cost_calls={self.unknown_cost_calls})"
        )


def track(*, keep_calls: bool = False) -> Tally:
    """Open an ambient accumulator: ``with synapsekit.track() as t: ...; print(t.cost_usd, t.tokens)``.

    Works as ``with`` and ``async with``; every LLM call made inside — in nested functions, asyncio tasks
    and (with :func:`synapsekit.with_current_context`) threads — is added. ``keep_calls=True`` also keeps
    the finished call records in :attr:`Tally.finished_calls`.
    """
    return Tally(keep_calls=keep_calls)

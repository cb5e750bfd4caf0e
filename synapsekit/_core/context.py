"""The ambient state: which scopes are active, carried by a ContextVar.

The ContextVar holds an immutable tuple of scope objects. The scopes themselves are shared, lock-protected
accumulators, so a child task or thread that inherits the tuple adds to the same totals as its parent. We
restore the previous tuple with ``set(previous)`` rather than ``reset(token)``: a token is bound to the
Context it was created in, and an async generator may be resumed (or closed by the garbage collector) from
another task, where resetting a token raises.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from synapsekit._core.scope import Scope

P = ParamSpec("P")
R = TypeVar("R")

active_scopes_var: contextvars.ContextVar[tuple[Scope, ...]] = contextvars.ContextVar(
    "synapsekit_active_scopes", default=()
)


# Process-wide scopes (the zero-code mode's budget) apply in every context, threads included.
global_scopes: tuple[Scope, ...] = ()


def active_scopes() -> tuple[Scope, ...]:
    """The scopes every LLM call started here reports to, outermost first."""
    return (*global_scopes, *active_scopes_var.get()) if global_scopes else active_scopes_var.get()


def add_global_scope(scope: Scope) -> None:
    """Make ``scope`` apply to every LLM call in the process, in every thread and task."""
    global global_scopes
    if not any(existing is scope for existing in global_scopes):
        global_scopes = (*global_scopes, scope)


def remove_global_scope(scope: Scope) -> None:
    global global_scopes
    global_scopes = tuple(existing for existing in global_scopes if existing is not scope)


def push_scope(scope: Scope) -> tuple[Scope, ...]:
    """Make ``scope`` active; returns what :func:`restore_scopes` needs to undo it."""
    previous = active_scopes_var.get()
    active_scopes_var.set((*previous, scope))
    return previous


def restore_scopes(previous: tuple[Scope, ...]) -> None:
    active_scopes_var.set(previous)


def leave_scope(scope: Scope) -> None:
    """Drop ``scope`` (and anything pushed after it and not popped) from this context's tuple."""
    current = active_scopes_var.get()
    for index in range(len(current) - 1, -1, -1):
        if current[index] is scope:
            active_scopes_var.set(current[:index])
            return


def with_current_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind ``fn`` to a copy of the caller's context, for running it in another thread.

    ``executor.submit(with_current_context(work), arg)`` makes the budgets, trackers and the current span of
    the submitting code apply inside ``work``.
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.run(fn, *args, **kwargs)

    return run_in_context


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in a copy of the submitter's context."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[R]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


_original_submit: Any = None


def propagate_context_to_thread_pools() -> None:
    """Opt-in: make every ``ThreadPoolExecutor`` (and so ``loop.run_in_executor``) carry the context.

    Idempotent; undone by :func:`stop_propagating_context_to_thread_pools`.
    """
    global _original_submit
    if _original_submit is not None:
        return
    original: Any = concurrent.futures.ThreadPoolExecutor.submit
    _original_submit = original

    def submit_in_context(
        self: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = original(
            self, contextvars.copy_context().run, fn, *args, **kwargs
        )
        return future

    submit_in_context.__doc__ = original.__doc__
    concurrent.futures.ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign,assignment]


def stop_propagating_context_to_thread_pools() -> None:
    global _original_submit
    if _original_submit is None:
        return
    concurrent.futures.ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
    _original_submit = None

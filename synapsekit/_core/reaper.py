"""Ending the calls of streams the caller abandoned, away from the garbage collector's finalizers.

An abandoned stream (never read to the end, never closed) ends its call when it is collected: the stream
proxy's ``__del__``, a watched raw response's ``weakref.finalize``. A finalizer runs wherever the collector
happens to run — on any thread, between any two bytecodes, possibly inside one of synapsekit's own locked
sections (a ledger's operation, a sink's update). Ending a call settles its budgets and tells the sinks, which
take those same locks: a plain lock would deadlock that thread for good, a reentrant one would let the
settlement run inside the half-done operation it interrupted.

So a finalizer run by the collector only hands the call over (``SimpleQueue.put`` is documented as safe in
``__del__`` and weakref callbacks) and the reaper, a daemon thread started the first time a finalizer is armed
(never from a finalizer: starting a thread takes locks of its own), ends it. It waits on the queue and costs
nothing between abandoned streams. :func:`drain` waits until everything handed over so far is ended: the test
helper ``synapsekit.testing.collect_garbage`` and interpreter exit use it, so no abandoned call goes unreported.

A stream proxy's ``__del__`` still ends the call itself when the caller dropped the last reference (that runs at
a point of the caller's own code, outside any of ours, and the call is counted at once, as before): it hands over
only when the cyclic collector finalizes it (``gc.is_finalized``). A raw response's ``weakref.finalize`` cannot
tell the two apart and always hands over.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, Protocol

from synapsekit._core.errors import report_internal_error

if TYPE_CHECKING:
    from collections.abc import Callable

_SITE = "stream.abandoned"


class Abandonable(Protocol):
    def abandon(self) -> None: ...


# What the reaper reads: an abandoned call's ``abandon`` to run, or an event a drain() waits on.
_queue: SimpleQueue[Callable[[], None] | threading.Event] = SimpleQueue()
_thread: threading.Thread | None = None
_start_lock = threading.Lock()
# Internal errors raised (strict mode) while ending a handed-over call: re-raised by the next drain().
_errors: list[BaseException] = []


def ensure_started() -> None:
    """Start the reaper if it is not running; call where a finalizer is armed, never from one."""
    global _thread
    if _thread is not None:
        return
    with _start_lock:
        if _thread is None:
            thread = threading.Thread(target=_reap, name="synapsekit-reaper", daemon=True)
            thread.start()
            _thread = thread


def hand_over(abandon: Callable[[], None]) -> None:
    """From a finalizer: have ``abandon()`` run on the reaper (at once, here, when there is no reaper)."""
    if _thread is None:
        # No reaper in this process (a child after fork whose parent armed the finalizer): as before it
        # existed. Ending the call here is what the reaper avoids, but the alternative is losing it.
        _end(abandon)
        return
    _queue.put(abandon)


def abandon_later(call: Abandonable) -> None:
    """A stream proxy's ``__del__``: its call abandoned on the reaper."""
    hand_over(call.abandon)


def abandon_when_collected(obj: Any, call: Abandonable) -> weakref.finalize[..., None]:
    """Abandon ``call`` on the reaper once ``obj`` is garbage-collected; ``.detach()`` the result to cancel.

    For an instrumentor whose call ends with an object the caller may drop unread (a raw HTTP response).
    """
    ensure_started()
    return weakref.finalize(obj, hand_over, call.abandon)


def drain(timeout_s: float = 10.0) -> bool:
    """Wait until every call handed over before this point has been ended; False on timeout.

    Re-raises (once) an internal error the reaper met in strict mode, as ending the call in place would have.
    """
    if _thread is None or threading.current_thread() is _thread:
        done = True
    else:
        event = threading.Event()
        _queue.put(event)
        done = event.wait(timeout_s)
    if _errors:
        error = _errors.pop(0)
        _errors.clear()
        raise error
    return done


def _end(abandon: Callable[[], None]) -> None:
    try:
        abandon()
    except Exception as exc:
        try:
            report_internal_error(_SITE, exc)
        except Exception as strict:  # strict mode: raised by the next drain(), the thread lives on
            _errors.append(strict)


def _reap() -> None:
    while True:
        item = _queue.get()
        if isinstance(item, threading.Event):
            item.set()
        else:
            _end(item)
        del item  # not kept alive while waiting for the next one


def _after_fork_in_child() -> None:
    # The reaper thread does not exist in the child, and what the parent handed over is the parent's to end.
    global _thread, _queue
    _thread = None
    _queue = SimpleQueue()
    _errors.clear()


def _drain_at_exit() -> None:
    # Exit goes on whatever happens: an error was reported when it happened (logged when not strict).
    with contextlib.suppress(Exception):
        drain(timeout_s=2.0)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_drain_at_exit)

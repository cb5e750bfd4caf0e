"""Process-wide receivers of LLM calls (metrics, OpenTelemetry metrics, ledgers, the demo's view).

Sinks see every call, in every context, whether or not any scope is active. They are kept in a tuple that
is replaced on change, so the hot path reads it without a lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from synapsekit._core.call import LLMCall


class CallSink(Protocol):
    """A sink whose ``on_call_start`` does nothing may say so with a class attribute
    ``observes_call_start = False``: the core then skips it when a call starts (a call fewer per request).
    """

    def on_call_start(self, call: LLMCall) -> None: ...

    def on_call_end(self, call: LLMCall) -> None: ...


_lock = threading.Lock()
sinks: tuple[CallSink, ...] = ()
# The sinks told when a call starts: those that did not opt out with observes_call_start = False.
start_sinks: tuple[CallSink, ...] = ()


def add_sink(sink: CallSink) -> None:
    """Register ``sink`` for every LLM call in the process; adding the same sink twice is a no-op."""
    global sinks, start_sinks
    with _lock:
        if not any(existing is sink for existing in sinks):
            sinks = (*sinks, sink)
            if getattr(sink, "observes_call_start", True):
                start_sinks = (*start_sinks, sink)


def remove_sink(sink: CallSink) -> None:
    global sinks, start_sinks
    with _lock:
        sinks = tuple(existing for existing in sinks if existing is not sink)
        start_sinks = tuple(existing for existing in start_sinks if existing is not sink)


def current_sinks() -> tuple[CallSink, ...]:
    return sinks

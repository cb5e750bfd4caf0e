"""Garbage collection as a test observes it: collected, and what the collection abandoned ended."""

from __future__ import annotations

import gc

from synapsekit._core import reaper


def collect_garbage() -> None:
    """``gc.collect()``, then wait until the calls of every stream it collected unread have been ended.

    Abandoned streams end their calls on synapsekit's reaper thread rather than inside the collector (see
    ``synapsekit._core.reaper``); a test that drops a stream and asserts on its call waits for that here.
    """
    gc.collect()
    if not reaper.drain():
        raise TimeoutError("synapsekit's reaper did not end the abandoned calls within 10 s")

"""Loading genai-prices' data in the background, before the first request needs it.

Kept apart from :mod:`synapsekit._pricing.genai` and the price tables so that starting the load (from
``instrument()``, a budget, a tally, ``PrometheusMetrics``) imports nothing but the standard library.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Sequence
from time import monotonic, sleep

logger = logging.getLogger("synapsekit.pricing")

# The third-party packages genai-prices imports, which the instrumented SDKs import too (openai: both). A
# background thread must not import them while the application may be importing them: when two threads import
# overlapping module graphs, CPython breaks the import-lock cycle by handing one of them a partially initialised
# module, and that one may be the application's own ``import openai`` ("partially initialized module 'httpx2'
# has no attribute 'Timeout'"). So the preload starts importing only once the application has imported these
# completely, which it does when it imports its SDK.
_SHARED_DEPENDENCIES = ("pydantic", "httpx2")
_POLL_S = 0.05
_PATIENCE_S = 30.0  # then give up: the first lookup loads on its own thread, as without a preload

_preload_lock = threading.Lock()
_preload_started = False
# "waiting" for the dependencies, "loading", or "off" (never started, given up, or left to a lookup).
_preload_state = "off"
_preloaded = threading.Event()


def preload_prices() -> None:
    """Start loading the packaged price data in the background (once per process, cheap after the first), so
    that the first call that needs a price does not wait for it. Called by everything that prices calls when
    it is set up.
    """
    global _preload_started, _preload_state
    if _preload_started:
        return
    with _preload_lock:
        if _preload_started:
            return
        _preload_started = True
        _preload_state = "waiting"
    threading.Thread(target=_load, name="synapsekit-prices-preload", daemon=True).start()


def dependencies_imported(names: Sequence[str] = _SHARED_DEPENDENCIES) -> bool:
    """Whether every module of ``names`` has been imported completely (none is still executing)."""
    for name in names:
        module = sys.modules.get(name)
        if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
            return False
    return True


def _claim_load(deadline: float) -> bool:
    """Wait until the dependencies are imported; True when this thread may load, False to give up."""
    global _preload_state
    while True:
        with _preload_lock:
            if _preload_state != "waiting":
                return False  # a lookup came first and loads on its own thread
            if dependencies_imported():
                _preload_state = "loading"
                return True
            if monotonic() >= deadline:
                _preload_state = "off"
                return False
        sleep(_POLL_S)


def _load() -> None:
    global _preload_state
    try:
        if not _claim_load(monotonic() + _PATIENCE_S):
            return
        from genai_prices import data_snapshot

        data_snapshot.get_snapshot()
        from synapsekit._pricing.genai import package_version

        package_version()  # reads installed metadata: tens of milliseconds, once
        # The price data is a few hundred thousand objects. The first full collection after they appear
        # walks them all (tens of milliseconds); run it here, off the request path, rather than inside
        # whichever request happens to trigger it. Afterwards they are old and rarely walked again.
        gc.collect()
    except Exception as exc:
        # The lookups load (and fail) on their own and report it where a user sees it; this is a head start.
        logger.debug("preloading genai-prices failed: %s: %s", type(exc).__name__, exc)
    finally:
        with _preload_lock:
            _preload_state = "off"
        _preloaded.set()


def wait_for_preload() -> None:
    """A lookup during the preload's load waits for it: the data is loaded once, by whoever started first.

    A lookup while the preload still waits for the application's imports takes the load over instead (on its
    own thread, the safe one) rather than waiting for it.
    """
    global _preload_state
    if not _preload_started or _preloaded.is_set():
        return
    with _preload_lock:
        loading = _preload_state == "loading"
        if _preload_state == "waiting":
            _preload_state = "off"
    if loading:
        _preloaded.wait()

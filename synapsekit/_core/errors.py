"""The internal-error policy: instrumentation never breaks the host application.

An unexpected failure inside synapsekit (an extractor that meets a response shape it does not know, a sink
that raises) is logged once per site and the user's call carries on untouched. Under the project's own test
suite (``SYNAPSEKIT_STRICT=1`` or :func:`set_strict`) the failure is raised instead, so bugs surface.
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger("synapsekit")

_strict = os.environ.get("SYNAPSEKIT_STRICT", "").strip().lower() in {"1", "true", "yes"}
_reported_sites: set[str] = set()
_reported_lock = threading.Lock()


def set_strict(strict: bool) -> None:
    """Raise internal errors instead of logging them (the test suite turns this on)."""
    global _strict
    _strict = strict


def is_strict() -> bool:
    return _strict


def report_internal_error(site: str, exc: BaseException) -> None:
    """Log ``exc`` once for ``site``; re-raise it in strict mode.

    Must be called from an ``except`` block so that strict mode re-raises with the original traceback.
    """
    if _strict:
        raise exc
    with _reported_lock:
        first = site not in _reported_sites
        _reported_sites.add(site)
    if first:
        logger.warning(
            "synapsekit internal error at %s (the call proceeds uninstrumented; reported once per site)",
            site,
            exc_info=exc,
        )
    else:
        logger.debug("synapsekit internal error at %s", site, exc_info=exc)

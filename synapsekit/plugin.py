"""The public plugin API for instrumentors (used by every ``instrumentation/*`` distribution).

A third party writes an instrumentor for its own client with exactly these pieces:

- :class:`Instrumentor` — the contract (``name``, ``distribution``, ``supported``, ``module``,
  ``_instrument``, ``_uninstrument``), registered under the entry-point group ``synapsekit.instrumentors``;
- :func:`wrap_method` / :func:`unwrap_method` — patches that are marked as ours and undone exactly;
- :func:`start_call` and :class:`LLMCall` — the lifecycle of one provider request;
- :class:`SyncStreamProxy` / :class:`AsyncStreamProxy` — streams that finalise exactly once;
- :class:`StreamReader` — what a stream proxy reads from each item (subclass it, pass it to the proxy);
- :func:`report_internal_error` — the error policy (log once, raise under tests).

Names load on first use (PEP 562): ``synapsekit.instrument()`` loads every registered instrumentor to read
its ``Instrumentor`` subclass, and that must not cost the call machinery, wrapt and the pricing tables for
clients that are not there to patch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synapsekit._lazy import lazy_getattr

_PUBLIC: dict[str, str] = {
    "AsyncStreamProxy": "synapsekit._streams",
    "BudgetExceeded": "synapsekit._exceptions",
    "InstrumentationError": "synapsekit._instrumentor",
    "Instrumentor": "synapsekit._instrumentor",
    "LLMCall": "synapsekit._call",
    "StreamReader": "synapsekit._streams",
    "SyncStreamProxy": "synapsekit._streams",
    "capture_content": "synapsekit._config",
    "current_call": "synapsekit._call",
    "is_strict": "synapsekit._errors",
    "is_synapsekit_wrapper": "synapsekit._patching",
    "redactor": "synapsekit._config",
    "report_internal_error": "synapsekit._errors",
    "start_call": "synapsekit._call",
    "unwrap_method": "synapsekit._patching",
    "wrap_method": "synapsekit._patching",
}

if TYPE_CHECKING:
    from synapsekit._call import LLMCall, current_call, start_call
    from synapsekit._config import capture_content, redactor
    from synapsekit._errors import is_strict, report_internal_error
    from synapsekit._exceptions import BudgetExceeded
    from synapsekit._instrumentor import InstrumentationError, Instrumentor
    from synapsekit._patching import is_synapsekit_wrapper, unwrap_method, wrap_method
    from synapsekit._streams import AsyncStreamProxy, StreamReader, SyncStreamProxy

__all__ = [
    "AsyncStreamProxy",
    "BudgetExceeded",
    "InstrumentationError",
    "Instrumentor",
    "LLMCall",
    "StreamReader",
    "SyncStreamProxy",
    "capture_content",
    "current_call",
    "is_strict",
    "is_synapsekit_wrapper",
    "redactor",
    "report_internal_error",
    "start_call",
    "unwrap_method",
    "wrap_method",
]

__getattr__: Any = lazy_getattr(__name__, _PUBLIC, globals())

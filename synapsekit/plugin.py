"""The public plugin API for instrumentors (used by every ``instrumentation/*`` distribution).

A third party writes an instrumentor for its own client with exactly these pieces:

- :class:`Instrumentor` — the contract (``name``, ``distribution``, ``supported``, ``module``,
  ``_instrument``, ``_uninstrument``), registered under the entry-point group ``synapsekit.instrumentors``;
- :func:`wrap_method` / :func:`unwrap_method` — patches that are marked as ours and undone exactly;
- :func:`start_call` and :class:`LLMCall` — the lifecycle of one provider request;
- :class:`SyncStreamProxy` / :class:`AsyncStreamProxy` — streams that finalise exactly once;
- :class:`StreamReader` — what a stream proxy reads from each item (subclass it, pass it to the proxy);
- :func:`report_internal_error` — the error policy (log once, raise under tests).
"""

from synapsekit._core.call import LLMCall, current_call, start_call
from synapsekit._core.config import capture_content, redactor
from synapsekit._core.errors import is_strict, report_internal_error
from synapsekit._core.exceptions import BudgetExceeded
from synapsekit._core.prompt import PromptParts
from synapsekit._core.streams import AsyncStreamProxy, StreamReader, SyncStreamProxy
from synapsekit._instrumenting.instrumentor import InstrumentationError, Instrumentor
from synapsekit._instrumenting.patching import is_synapsekit_wrapper, unwrap_method, wrap_method

__all__ = [
    "AsyncStreamProxy",
    "BudgetExceeded",
    "InstrumentationError",
    "Instrumentor",
    "LLMCall",
    "PromptParts",
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

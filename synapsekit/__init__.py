"""synapsekit: observability and spend control for Python LLM applications.

Everything public is importable from here (and the spec's facades from ``synapsekit.observability``).
Attributes load on first use, so ``import synapsekit`` imports no LLM SDK, pydantic, pricing data,
gRPC, prometheus-client or OpenTelemetry SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synapsekit._lazy import lazy_getattr

__version__ = "0.1.0"

_PUBLIC: dict[str, str] = {
    "BaseLLM": "synapsekit._llm",
    "BudgetExceeded": "synapsekit._exceptions",
    "ContextThreadPoolExecutor": "synapsekit._context",
    "Generation": "synapsekit._llm",
    "InstrumentationError": "synapsekit._instrumentor",
    "LLMCall": "synapsekit._call",
    "LLMConfig": "synapsekit._llm",
    "OfflineLLM": "synapsekit._offline",
    "Tally": "synapsekit._scope",
    "Usage": "synapsekit._llm",
    "add_sink": "synapsekit._sinks",
    "current_call": "synapsekit._call",
    "instrument": "synapsekit._instrument",
    "propagate_context_to_thread_pools": "synapsekit._context",
    "remove_sink": "synapsekit._sinks",
    "set_redactor": "synapsekit._config",
    "stop_propagating_context_to_thread_pools": "synapsekit._context",
    "traced": "synapsekit._traced",
    "track": "synapsekit._scope",
    "uninstrument": "synapsekit._instrument",
    "with_current_context": "synapsekit._context",
}

__all__ = [
    "BaseLLM",
    "BudgetExceeded",
    "ContextThreadPoolExecutor",
    "Generation",
    "InstrumentationError",
    "LLMCall",
    "LLMConfig",
    "OfflineLLM",
    "Tally",
    "Usage",
    "__version__",
    "add_sink",
    "current_call",
    "instrument",
    "propagate_context_to_thread_pools",
    "remove_sink",
    "set_redactor",
    "stop_propagating_context_to_thread_pools",
    "traced",
    "track",
    "uninstrument",
    "with_current_context",
]

if TYPE_CHECKING:
    from synapsekit._call import LLMCall, current_call
    from synapsekit._config import set_redactor
    from synapsekit._context import (
        ContextThreadPoolExecutor,
        propagate_context_to_thread_pools,
        stop_propagating_context_to_thread_pools,
        with_current_context,
    )
    from synapsekit._exceptions import BudgetExceeded
    from synapsekit._instrument import instrument, uninstrument
    from synapsekit._instrumentor import InstrumentationError
    from synapsekit._llm import BaseLLM, Generation, LLMConfig, Usage
    from synapsekit._offline import OfflineLLM
    from synapsekit._scope import Tally, track
    from synapsekit._sinks import add_sink, remove_sink
    from synapsekit._traced import traced

__getattr__: Any = lazy_getattr(__name__, _PUBLIC, globals())


def __dir__() -> list[str]:
    return sorted(__all__)

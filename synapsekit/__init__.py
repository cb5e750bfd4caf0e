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
    "AnthropicLLM": "synapsekit._anthropic_llm",
    "BaseLLM": "synapsekit._llm",
    "BudgetEvent": "synapsekit._budget",
    "BudgetExceeded": "synapsekit._exceptions",
    "BudgetWarning": "synapsekit._budget",
    "ContextThreadPoolExecutor": "synapsekit._context",
    "Cost": "synapsekit._pricing",
    "Document": "synapsekit.rag._vector_store",
    "Generation": "synapsekit._llm",
    "InMemoryVectorStore": "synapsekit.rag._vector_store",
    "InstrumentationError": "synapsekit._instrumentor",
    "LLMCall": "synapsekit._call",
    "LLMConfig": "synapsekit._llm",
    "OfflineLLM": "synapsekit._offline",
    "OpenAILLM": "synapsekit._openai_llm",
    "RAG": "synapsekit.rag._rag",
    "RAGConfig": "synapsekit.rag._rag",
    "SpendLedger": "synapsekit._spend_ledger",
    "SpendLedgerError": "synapsekit._spend_ledger",
    "SynapsekitEmbeddings": "synapsekit.rag._embeddings",
    "Tally": "synapsekit._scope",
    "UnitPrices": "synapsekit._pricing",
    "UnknownModelPriceWarning": "synapsekit._pricing",
    "Usage": "synapsekit._llm",
    "add_sink": "synapsekit._sinks",
    "budget": "synapsekit._budget",
    "clear_price_overrides": "synapsekit._pricing",
    "compute_cost": "synapsekit._pricing",
    "current_call": "synapsekit._call",
    "estimate_max_cost": "synapsekit._pricing",
    "instrument": "synapsekit._instrument",
    "load_prices": "synapsekit._pricing",
    "pricing_source": "synapsekit._pricing",
    "propagate_context_to_thread_pools": "synapsekit._context",
    "refresh_prices": "synapsekit._pricing",
    "remove_sink": "synapsekit._sinks",
    "set_price": "synapsekit._pricing",
    "set_redactor": "synapsekit._config",
    "stop_propagating_context_to_thread_pools": "synapsekit._context",
    "traced": "synapsekit._traced",
    "track": "synapsekit._scope",
    "uninstrument": "synapsekit._instrument",
    "unknown_models": "synapsekit._pricing",
    "with_current_context": "synapsekit._context",
}

__all__ = [
    "AnthropicLLM",
    "BaseLLM",
    "BudgetEvent",
    "BudgetExceeded",
    "BudgetWarning",
    "ContextThreadPoolExecutor",
    "Cost",
    "Document",
    "Generation",
    "InMemoryVectorStore",
    "InstrumentationError",
    "LLMCall",
    "LLMConfig",
    "OfflineLLM",
    "OpenAILLM",
    "RAG",
    "RAGConfig",
    "SpendLedger",
    "SpendLedgerError",
    "SynapsekitEmbeddings",
    "Tally",
    "UnitPrices",
    "UnknownModelPriceWarning",
    "Usage",
    "__version__",
    "add_sink",
    "budget",
    "clear_price_overrides",
    "compute_cost",
    "current_call",
    "estimate_max_cost",
    "instrument",
    "load_prices",
    "pricing_source",
    "propagate_context_to_thread_pools",
    "refresh_prices",
    "remove_sink",
    "set_price",
    "set_redactor",
    "stop_propagating_context_to_thread_pools",
    "traced",
    "track",
    "uninstrument",
    "unknown_models",
    "with_current_context",
]

if TYPE_CHECKING:
    from synapsekit._anthropic_llm import AnthropicLLM
    from synapsekit._budget import BudgetEvent, BudgetWarning, budget
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
    from synapsekit._openai_llm import OpenAILLM
    from synapsekit._pricing import (
        Cost,
        UnitPrices,
        UnknownModelPriceWarning,
        clear_price_overrides,
        compute_cost,
        estimate_max_cost,
        load_prices,
        pricing_source,
        refresh_prices,
        set_price,
        unknown_models,
    )
    from synapsekit._scope import Tally, track
    from synapsekit._sinks import add_sink, remove_sink
    from synapsekit._spend_ledger import SpendLedger, SpendLedgerError
    from synapsekit._traced import traced
    from synapsekit.rag._embeddings import SynapsekitEmbeddings
    from synapsekit.rag._rag import RAG, RAGConfig
    from synapsekit.rag._vector_store import Document, InMemoryVectorStore

__getattr__: Any = lazy_getattr(__name__, _PUBLIC, globals())


def __dir__() -> list[str]:
    return sorted(__all__)

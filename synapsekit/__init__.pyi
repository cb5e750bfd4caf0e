"""Public names of ``synapsekit``, listed once.

Type checkers read this stub; at run time ``__init__.py`` reads the same lines to load each name
lazily and to build ``__all__`` (see :mod:`synapsekit._core.lazy`). Add a public name here and nowhere else.
"""

from synapsekit._budget.api import budget as budget
from synapsekit._budget.events import BudgetEvent as BudgetEvent
from synapsekit._budget.remote import (
    budget_join_refusals as budget_join_refusals,
    register_ledger as register_ledger,
)
from synapsekit._budget.scope import BudgetWarning as BudgetWarning
from synapsekit._core.call import (
    ImplausibleUsageWarning as ImplausibleUsageWarning,
    LLMCall as LLMCall,
    current_call as current_call,
)
from synapsekit._core.config import set_redactor as set_redactor
from synapsekit._core.context import (
    ContextThreadPoolExecutor as ContextThreadPoolExecutor,
    propagate_context_to_thread_pools as propagate_context_to_thread_pools,
    stop_propagating_context_to_thread_pools as stop_propagating_context_to_thread_pools,
    with_current_context as with_current_context,
)
from synapsekit._core.exceptions import BudgetExceeded as BudgetExceeded
from synapsekit._core.scope import (
    Tally as Tally,
    track as track,
)
from synapsekit._core.sinks import (
    add_sink as add_sink,
    remove_sink as remove_sink,
)
from synapsekit._core.traced import traced as traced
from synapsekit._instrumenting.instrument import (
    instrument as instrument,
    uninstrument as uninstrument,
)
from synapsekit._instrumenting.instrumentor import InstrumentationError as InstrumentationError
from synapsekit._llms.anthropic_llm import AnthropicLLM as AnthropicLLM
from synapsekit._llms.base import (
    BaseLLM as BaseLLM,
    Generation as Generation,
    LLMConfig as LLMConfig,
    Usage as Usage,
)
from synapsekit._llms.offline import OfflineLLM as OfflineLLM
from synapsekit._llms.openai_llm import OpenAILLM as OpenAILLM
from synapsekit._pricing.prices import (
    Cost as Cost,
    UnitPrices as UnitPrices,
    UnknownModelPriceWarning as UnknownModelPriceWarning,
    clear_price_overrides as clear_price_overrides,
    compute_cost as compute_cost,
    estimate_max_cost as estimate_max_cost,
    load_prices as load_prices,
    pricing_source as pricing_source,
    refresh_prices as refresh_prices,
    set_price as set_price,
    unknown_models as unknown_models,
)
from synapsekit._spend.ledger import (
    SpendLedger as SpendLedger,
    SpendLedgerError as SpendLedgerError,
)
from synapsekit._version import __version__ as __version__
from synapsekit.rag._embeddings import SynapsekitEmbeddings as SynapsekitEmbeddings
from synapsekit.rag._rag import (
    RAG as RAG,
    RAGConfig as RAGConfig,
    RAGPipeline as RAGPipeline,
)
from synapsekit.rag._vector_store import (
    Document as Document,
    InMemoryVectorStore as InMemoryVectorStore,
)

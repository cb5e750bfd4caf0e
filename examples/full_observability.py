"""The spec's "Full observability setup example", unchanged apart from endpoint and key values."""

import asyncio
import os

from synapsekit import RAG, InMemoryVectorStore, LLMConfig, OpenAILLM, RAGConfig, SynapsekitEmbeddings
from synapsekit.observability import BudgetGuard, BudgetLimit, CostTracker, OTelExporter, TracingMiddleware

OTLP_ENDPOINT = os.environ.get("OTLP_ENDPOINT", "http://localhost:4317")


async def main():
    llm = OpenAILLM(
        LLMConfig(
            model="gpt-4o-mini",
            api_key=os.environ.get("OPENAI_API_KEY", "sk-..."),
            base_url=os.environ.get("OPENAI_BASE_URL"),
        )
    )
    guarded_llm = BudgetGuard(
        llm=CostTracker(llm),
        limit=BudgetLimit(max_cost_usd=5.00, window="day"),
    )
    OTelExporter(endpoint=OTLP_ENDPOINT, insecure=True).install()
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    config = RAGConfig(llm=guarded_llm, vector_store=store)
    rag = RAG(config)
    traced_rag = TracingMiddleware(rag)
    await traced_rag.aadd(["SynapseKit is an async-first Python library."])
    answer = await traced_rag.aquery("What is SynapseKit?")
    print(answer)
    print(f"spent ${guarded_llm.spent_usd:.6f} of $5.00 today; circuit {guarded_llm.circuit_state.value}")


asyncio.run(main())

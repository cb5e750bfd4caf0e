"""Small, honest retrieval-augmented generation: an offline lexical embedding, an in-memory vector store and
a ``RAG`` pipeline that makes one LLM call per question (traced, costed and budgeted like any other).
"""

from synapsekit.rag._embeddings import SynapsekitEmbeddings
from synapsekit.rag._rag import DEFAULT_PROMPT_TEMPLATE, RAG, RAGConfig, RAGPipeline
from synapsekit.rag._vector_store import Document, Embeddings, InMemoryVectorStore, VectorStore

__all__ = [
    "DEFAULT_PROMPT_TEMPLATE",
    "RAG",
    "Document",
    "Embeddings",
    "InMemoryVectorStore",
    "RAGConfig",
    "RAGPipeline",
    "SynapsekitEmbeddings",
    "VectorStore",
]

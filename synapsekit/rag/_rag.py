"""``RAG``: retrieve the passages closest to a question, then ask the LLM to answer from them.

The pipeline is deliberately small: ``aadd`` stores texts in the vector store, ``aquery`` retrieves
``top_k`` documents and makes exactly one ``llm.generate`` call with a prompt built from
``prompt_template``. The LLM is anything with ``async generate(prompt) -> str`` (and ``stream`` for
:meth:`RAG.astream`) — a ``BaseLLM`` or one of the spec's facades wrapping it, so the call is traced,
costed and budgeted like any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from synapsekit.rag._vector_store import Document, VectorStore

__all__ = ["DEFAULT_PROMPT_TEMPLATE", "RAG", "RAGConfig", "RAGPipeline", "format_context"]

DEFAULT_PROMPT_TEMPLATE = (
    "Answer using the context below. If the context does not contain the answer, say that you do not know."
    "\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"
)
NO_CONTEXT = "(no documents found)"


@runtime_checkable
class RAGPipeline(Protocol):
    """A question-answering pipeline, the other kind of component the spec's ``TracingMiddleware`` wraps.

    Anything with ``async aquery(question, **kwargs) -> str`` is one — :class:`RAG` and your own pipelines
    alike, without subclassing. ``isinstance(obj, RAGPipeline)`` checks only that ``aquery`` exists.
    """

    async def aquery(self, question: str, **kwargs: Any) -> str: ...


@dataclass
class RAGConfig:
    """The parts of a :class:`RAG` pipeline.

    ``prompt_template`` must contain ``{context}`` and ``{question}``.
    """

    llm: Any
    vector_store: VectorStore
    top_k: int = 4
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE

    def __post_init__(self) -> None:
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int):
            raise TypeError(f"top_k must be an int, got {type(self.top_k).__name__}")
        if self.top_k <= 0:
            raise ValueError(f"top_k must be > 0, got {self.top_k}")
        if not callable(getattr(self.llm, "generate", None)):
            raise TypeError(f"llm must have an async generate(prompt) method, got {type(self.llm).__name__}")
        missing = [name for name in ("{context}", "{question}") if name not in self.prompt_template]
        if missing:
            raise ValueError(f"prompt_template must contain {' and '.join(missing)}")


def format_context(documents: Sequence[Document]) -> str:
    """Numbered passages, one per line: ``[1] first text``; a fixed note when nothing was retrieved."""
    if not documents:
        return NO_CONTEXT
    return "\n".join(f"[{number}] {document.text}" for number, document in enumerate(documents, 1))


class RAG:
    """Retrieval-augmented generation over ``config.vector_store`` with ``config.llm``.

    ``await rag.aadd(texts)`` stores texts; ``await rag.aquery(question)`` answers with one LLM call. An
    empty store still gets the question answered (the prompt says no documents were found), so the
    behaviour — and the cost — of a query does not depend on what happens to be indexed.
    """

    def __init__(self, config: RAGConfig) -> None:
        self.config = config

    async def aadd(
        self, texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]] | None = None
    ) -> list[str]:
        """Store ``texts`` (and their metadata) in the vector store; returns the new document ids."""
        return await self.config.vector_store.aadd(texts, metadatas)

    async def aretrieve(self, question: str) -> list[Document]:
        """The ``top_k`` documents most similar to ``question``, best first."""
        _check_question(question)
        return await self.config.vector_store.asearch(question, k=self.config.top_k)

    def build_prompt(self, question: str, documents: Sequence[Document]) -> str:
        """The prompt sent to the LLM for ``question`` given the retrieved ``documents``."""
        # str.replace, not str.format: a document or question containing braces must not break the prompt.
        template = self.config.prompt_template
        marker = "\x00question\x00"
        prompt = template.replace("{question}", marker).replace("{context}", format_context(documents))
        return prompt.replace(marker, question)

    async def aquery(self, question: str, **kwargs: Any) -> str:
        """Answer ``question`` from the retrieved context; ``kwargs`` go to ``llm.generate``."""
        documents = await self.aretrieve(question)
        prompt = self.build_prompt(question, documents)
        answer: str = await self.config.llm.generate(prompt, **kwargs)
        return answer

    async def astream(self, question: str, **kwargs: Any) -> AsyncIterator[str]:
        """Like :meth:`aquery`, yielding the answer's chunks as ``llm.stream`` produces them."""
        documents = await self.aretrieve(question)
        prompt = self.build_prompt(question, documents)
        stream = self.config.llm.stream(prompt, **kwargs)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def __repr__(self) -> str:
        config = self.config
        return f"RAG(llm={config.llm!r}, vector_store={config.vector_store!r}, top_k={config.top_k})"


def _check_question(question: str) -> None:
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    if not question.strip():
        raise ValueError("question must not be empty")

"""``InMemoryVectorStore``: texts, their vectors and metadata in a list, searched by cosine similarity.

A linear scan: right for demos, tests and a few thousand documents; nothing is persisted.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Document", "Embeddings", "InMemoryVectorStore", "VectorStore"]


class Embeddings(Protocol):
    """What a vector store needs from an embedding model."""

    async def aembed(self, texts: list[str]) -> list[list[float]]: ...

    async def aembed_query(self, text: str) -> list[float]: ...


@dataclass(frozen=True)
class Document:
    """A stored text; ``score`` is the cosine similarity to the query when returned by a search."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float | None = None


class VectorStore(Protocol):
    """What :class:`~synapsekit.rag.RAG` needs from a vector store."""

    async def aadd(
        self, texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]] | None = None
    ) -> list[str]: ...

    async def asearch(self, query: str, k: int = 4) -> list[Document]: ...


@dataclass(frozen=True)
class _Entry:
    document: Document
    vector: list[float]
    norm: float


def check_texts(texts: Sequence[str]) -> list[str]:
    # A bare string is a sequence too: adding "abc" would silently store "a", "b" and "c".
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not a single str")
    checked = list(texts)
    for index, text in enumerate(checked):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] must be a str, got {type(text).__name__}")
    return checked


class InMemoryVectorStore:
    """Keeps documents in memory and returns the ``k`` most similar to a query (cosine similarity)."""

    def __init__(self, embeddings: Embeddings) -> None:
        self.embeddings = embeddings
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    async def aadd(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Embed and store ``texts`` (with optional per-text metadata and ids); returns their ids.

        Ids default to random UUIDs; an id already in the store is an error.
        """
        checked = check_texts(texts)
        if metadatas is not None and len(metadatas) != len(checked):
            raise ValueError(f"got {len(metadatas)} metadatas for {len(checked)} texts")
        if ids is not None and len(ids) != len(checked):
            raise ValueError(f"got {len(ids)} ids for {len(checked)} texts")
        new_ids = [uuid.uuid4().hex for _ in checked] if ids is None else [str(i) for i in ids]
        if len(set(new_ids)) != len(new_ids):
            raise ValueError("ids must be unique")
        if not checked:
            return []
        vectors = await self.embeddings.aembed(checked)
        if len(vectors) != len(checked):
            raise ValueError(f"the embeddings returned {len(vectors)} vectors for {len(checked)} texts")
        entries = [
            _Entry(
                Document(id=doc_id, text=text, metadata=dict(metadatas[i]) if metadatas is not None else {}),
                list(vector),
                math.sqrt(sum(value * value for value in vector)),
            )
            for i, (doc_id, text, vector) in enumerate(zip(new_ids, checked, vectors, strict=True))
        ]
        with self._lock:
            existing = {entry.document.id for entry in self._entries}
            clashes = sorted(existing.intersection(new_ids))
            if clashes:
                raise ValueError(f"ids already in the store: {', '.join(clashes)}")
            if self._entries and len(entries[0].vector) != len(self._entries[0].vector):
                raise ValueError(
                    f"vectors of {len(entries[0].vector)} dimensions do not match the store's"
                    f" {len(self._entries[0].vector)}"
                )
            self._entries.extend(entries)
        return new_ids

    async def asearch(self, query: str, k: int = 4) -> list[Document]:
        """The ``k`` stored documents most similar to ``query``, best first (fewer if the store is smaller).

        Ties keep insertion order. An empty store returns ``[]``.
        """
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        with self._lock:
            entries = list(self._entries)
        if not entries:
            return []
        vector = await self.embeddings.aembed_query(query)
        if len(vector) != len(entries[0].vector):
            raise ValueError(
                f"query vector of {len(vector)} dimensions does not match"
                f" the store's {len(entries[0].vector)}"
            )
        query_norm = math.sqrt(sum(value * value for value in vector))
        scored = [(_cosine(vector, query_norm, entry), index) for index, entry in enumerate(entries)]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [_with_score(entries[index].document, score) for score, index in scored[:k]]

    def __repr__(self) -> str:
        return f"InMemoryVectorStore({self.embeddings!r}, documents={len(self._entries)})"


def _cosine(query: list[float], query_norm: float, entry: _Entry) -> float:
    if query_norm == 0.0 or entry.norm == 0.0:
        return 0.0
    return sum(a * b for a, b in zip(query, entry.vector, strict=True)) / (query_norm * entry.norm)


def _with_score(document: Document, score: float) -> Document:
    return Document(id=document.id, text=document.text, metadata=dict(document.metadata), score=score)

"""``SynapsekitEmbeddings``: an offline, deterministic, *lexical* text embedding.

It hashes words and character trigrams into a fixed number of dimensions (the "hashing trick") and
normalises the result to length 1, so cosine similarity is a dot product. Texts that share words, or
word fragments ("embed" / "embeddings"), come out similar; synonyms with no letters in common do not —
this is not a semantic model. It needs no network, no model file and no numpy, and gives the same vector
for the same text in every process, which is what demos, tests and small offline pipelines need. For
semantic retrieval, pass any object with the same two async methods (``aembed``, ``aembed_query``) to
:class:`~synapsekit.rag.InMemoryVectorStore`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re

__all__ = ["SynapsekitEmbeddings"]

_WORD = re.compile(r"\w+")
# Whole words carry more signal than the fragments they share with other words.
_WORD_WEIGHT = 1.0
_TRIGRAM_WEIGHT = 0.5


@functools.lru_cache(maxsize=65_536)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    # A stable hash (unlike hash(), not salted per process). The sign bit spreads collisions around zero so
    # that two unrelated features landing in one slot do not look alike.
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return digest % dimensions, (1.0 if digest >> 63 else -1.0)


def _features(text: str) -> list[tuple[str, float]]:
    features: list[tuple[str, float]] = []
    for word in _WORD.findall(text.lower()):
        features.append(("w:" + word, _WORD_WEIGHT))
        padded = f"<{word}>"
        features.extend(("c:" + padded[i : i + 3], _TRIGRAM_WEIGHT) for i in range(len(padded) - 2))
    return features


class SynapsekitEmbeddings:
    """Hashed word + character-trigram vectors of ``dimensions`` floats, unit length (lexical, offline).

    A text with no word characters (empty, only punctuation) embeds to the zero vector, which is similar
    to nothing.
    """

    def __init__(self, dimensions: int = 256) -> None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int):
            raise TypeError(f"dimensions must be an int, got {type(dimensions).__name__}")
        if dimensions <= 0:
            raise ValueError(f"dimensions must be > 0, got {dimensions}")
        self.dimensions = dimensions

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text (synchronous; the work is pure CPU and takes microseconds)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        vector = [0.0] * self.dimensions
        for feature, weight in _features(text):
            index, sign = _slot(feature, self.dimensions)
            vector[index] += sign * weight
        norm = math.sqrt(sum(value * value for value in vector))
        if norm == 0.0:
            return vector
        return [value / norm for value in vector]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """The vectors of ``texts``, in order (synchronous)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a single str")
        return [self.embed_query(text) for text in texts]

    async def aembed(self, texts: list[str]) -> list[list[float]]:
        """The vectors of ``texts``, in order."""
        return self.embed(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """The vector of one query text."""
        return self.embed_query(text)

    def __repr__(self) -> str:
        return f"SynapsekitEmbeddings(dimensions={self.dimensions})"

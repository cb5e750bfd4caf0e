"""InMemoryVectorStore: cosine search, ids, metadata and bad input."""

from __future__ import annotations

import pytest

from synapsekit.rag import Document, InMemoryVectorStore, SynapsekitEmbeddings

CORPUS = [
    "The cat sat on the mat.",
    "Dogs chase cats in the park.",
    "Stock markets fell sharply today.",
    "Python is a programming language.",
]
IDS = ["cat", "dogs", "stocks", "python"]


async def _store() -> InMemoryVectorStore:
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    await store.aadd(CORPUS, [{"n": n} for n in range(4)], ids=IDS)
    return store


async def test_retrieval_order_and_scores_for_a_tiny_corpus() -> None:
    store = await _store()
    results = await store.asearch("a cat on a mat", k=4)
    assert [(doc.id, round(doc.score or 0, 4)) for doc in results] == [
        ("cat", 0.462),
        ("python", 0.245),
        ("dogs", 0.0228),
        ("stocks", 0.0223),
    ]
    assert results[0] == Document(id="cat", text=CORPUS[0], metadata={"n": 0}, score=results[0].score)
    assert [doc.id for doc in await store.asearch("where do dogs play", k=1)] == ["dogs"]
    assert [doc.id for doc in await store.asearch("programming in python", k=2)] == ["python", "dogs"]
    assert [doc.id for doc in await store.asearch("markets today")][:1] == ["stocks"]


async def test_default_k_is_four_and_k_larger_than_the_store_returns_everything() -> None:
    store = await _store()
    await store.aadd(["one more document"], ids=["extra"])
    assert len(store) == 5
    assert len(await store.asearch("cat")) == 4
    assert len(await store.asearch("cat", k=50)) == 5


async def test_ties_keep_insertion_order() -> None:
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    await store.aadd(["same text", "same text", "same text"], ids=["a", "b", "c"])
    assert [doc.id for doc in await store.asearch("same text", k=3)] == ["a", "b", "c"]


async def test_empty_store_returns_nothing_and_empty_add_adds_nothing() -> None:
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    assert await store.asearch("anything") == []
    assert await store.aadd([]) == []
    assert len(store) == 0


async def test_generated_ids_are_unique_and_metadata_is_copied() -> None:
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    metadata = {"source": "a.txt"}
    ids = await store.aadd(["alpha text", "beta text"], [metadata, {}])
    assert len(set(ids)) == 2
    assert all(len(doc_id) == 32 for doc_id in ids)
    metadata["source"] = "changed"
    [found] = await store.asearch("alpha", k=1)
    assert found.id == ids[0]
    assert found.metadata == {"source": "a.txt"}
    found.metadata["source"] = "mutated by the caller"
    [again] = await store.asearch("alpha", k=1)
    assert again.metadata == {"source": "a.txt"}


@pytest.mark.parametrize("k", [0, -1])
async def test_k_must_be_positive(k: int) -> None:
    store = await _store()
    with pytest.raises(ValueError, match=f"k must be > 0, got {k}"):
        await store.asearch("cat", k=k)


async def test_bad_input_is_rejected_early() -> None:
    store = await _store()
    with pytest.raises(TypeError, match="k must be an int"):
        await store.asearch("cat", k=True)
    with pytest.raises(TypeError, match="query must be a str"):
        await store.asearch(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a single str"):
        await store.aadd("a single string")
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str, got int"):
        await store.aadd(["fine", 2])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="got 1 metadatas for 2 texts"):
        await store.aadd(["a", "b"], [{}])
    with pytest.raises(ValueError, match="got 1 ids for 2 texts"):
        await store.aadd(["a", "b"], ids=["x"])
    with pytest.raises(ValueError, match="ids must be unique"):
        await store.aadd(["a", "b"], ids=["x", "x"])
    with pytest.raises(ValueError, match="ids already in the store: cat"):
        await store.aadd(["a"], ids=["cat"])
    assert len(store) == 4


async def test_embeddings_of_another_size_are_refused() -> None:
    store = InMemoryVectorStore(SynapsekitEmbeddings(dimensions=8))
    await store.aadd(["eight dimensions"])
    store.embeddings = SynapsekitEmbeddings(dimensions=16)
    with pytest.raises(ValueError, match="vectors of 16 dimensions do not match the store's 8"):
        await store.aadd(["sixteen dimensions"])
    with pytest.raises(ValueError, match="query vector of 16 dimensions does not match the store's 8"):
        await store.asearch("sixteen")

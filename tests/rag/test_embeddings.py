"""SynapsekitEmbeddings: deterministic, unit-length, lexical."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from synapsekit.rag import SynapsekitEmbeddings


async def test_vectors_have_the_requested_dimensions_and_unit_length() -> None:
    embeddings = SynapsekitEmbeddings()
    vectors = await embeddings.aembed(["SynapseKit is an async-first Python library.", "x"])
    assert [len(vector) for vector in vectors] == [256, 256]
    for vector in vectors:
        assert math.isclose(math.sqrt(sum(value * value for value in vector)), 1.0, abs_tol=1e-12)
    assert len(await SynapsekitEmbeddings(dimensions=8).aembed_query("hello world")) == 8


def test_same_text_same_vector_in_this_and_another_process() -> None:
    embeddings = SynapsekitEmbeddings(dimensions=64)
    text = "Budgets stop spending before it happens."
    here = embeddings.embed_query(text)
    assert embeddings.embed_query(text) == here
    assert embeddings.embed([text, text]) == [here, here]
    # Python's hash() is salted per process; the embedding must not depend on it.
    code = (
        "import json; from synapsekit.rag import SynapsekitEmbeddings;"
        f"print(json.dumps(SynapsekitEmbeddings(dimensions=64).embed_query({text!r})))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "7"}
    ).stdout
    assert json.loads(output) == here


async def test_case_and_punctuation_do_not_matter_and_shared_words_raise_similarity() -> None:
    embeddings = SynapsekitEmbeddings()
    assert await embeddings.aembed_query("Hello, World!") == await embeddings.aembed_query("hello world")
    query = await embeddings.aembed_query("vector embeddings")
    related = await embeddings.aembed_query("embedding vectors for text")
    unrelated = await embeddings.aembed_query("quarterly revenue report")

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(query, related) > 0.3
    assert abs(dot(query, unrelated)) < 0.1


async def test_text_without_words_is_the_zero_vector() -> None:
    embeddings = SynapsekitEmbeddings(dimensions=16)
    assert await embeddings.aembed_query("") == [0.0] * 16
    assert await embeddings.aembed_query(" ... !? ") == [0.0] * 16
    assert await embeddings.aembed([]) == []


@pytest.mark.parametrize("dimensions", [0, -3])
def test_dimensions_must_be_positive(dimensions: int) -> None:
    with pytest.raises(ValueError, match=f"dimensions must be > 0, got {dimensions}"):
        SynapsekitEmbeddings(dimensions=dimensions)


@pytest.mark.parametrize("dimensions", [2.5, "8", True])
def test_dimensions_must_be_an_int(dimensions: object) -> None:
    with pytest.raises(TypeError, match="dimensions must be an int"):
        SynapsekitEmbeddings(dimensions=dimensions)  # type: ignore[arg-type]


async def test_bad_texts_are_rejected() -> None:
    embeddings = SynapsekitEmbeddings()
    with pytest.raises(TypeError, match="not a single str"):
        await embeddings.aembed("one text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be a str, got int"):
        await embeddings.aembed([1])  # type: ignore[list-item]
    assert repr(embeddings) == "SynapsekitEmbeddings(dimensions=256)"

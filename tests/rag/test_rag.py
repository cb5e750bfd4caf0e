"""RAG over OfflineLLM: one LLM call per question, the exact prompt, streaming, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

import synapsekit
from synapsekit import OfflineLLM
from synapsekit.observability import CostTracker
from synapsekit.rag import DEFAULT_PROMPT_TEMPLATE, RAG, InMemoryVectorStore, RAGConfig, SynapsekitEmbeddings

DOC = "SynapseKit is an async-first Python library."
# The default template has 19 words before "Context:", then "Context:" (1), "[1]" + the 6 document words,
# "Question:" + 3 question words, "Answer:" (1): 19 + 1 + 7 + 4 + 1 = 32 OfflineLLM tokens.
EXPECTED_PROMPT = (
    "Answer using the context below. If the context does not contain the answer, say that you do not know."
    "\n\nContext:\n[1] SynapseKit is an async-first Python library.\n\nQuestion: What is SynapseKit?\nAnswer:"
)


def _rag(llm: Any, **config: Any) -> RAG:
    return RAG(RAGConfig(llm=llm, vector_store=InMemoryVectorStore(SynapsekitEmbeddings()), **config))


async def test_the_spec_example_makes_one_llm_call_with_the_expected_prompt() -> None:
    llm = OfflineLLM()
    tracker = CostTracker(llm)
    rag = _rag(tracker)
    ids = await rag.aadd([DOC])
    assert len(ids) == 1
    with synapsekit.track(keep_calls=True) as tally:
        answer = await rag.aquery("What is SynapseKit?")
    assert tally.calls == 1
    assert tally.tokens == {"input": 32, "output": 12, "total": 44}
    assert tally.finished_calls[0].prompt_text == EXPECTED_PROMPT
    assert answer == await OfflineLLM().generate(EXPECTED_PROMPT)
    assert len(tracker.records) == 1
    assert tracker.records[0].input_tokens == 32


async def test_top_k_limits_the_context_to_the_best_documents() -> None:
    rag = _rag(OfflineLLM(), top_k=2)
    await rag.aadd(
        ["Paris is the capital of France.", "Berlin is the capital of Germany.", "Cats sleep a lot."]
    )
    documents = await rag.aretrieve("capital of France")
    assert [document.text for document in documents] == [
        "Paris is the capital of France.",
        "Berlin is the capital of Germany.",
    ]
    with synapsekit.track(keep_calls=True) as tally:
        await rag.aquery("capital of France")
    prompt = tally.finished_calls[0].prompt_text
    assert prompt is not None
    assert "[1] Paris is the capital of France.\n[2] Berlin is the capital of Germany.\n" in prompt
    assert "Cats" not in prompt
    # 19 + "Context:" + (1 + 6) + (1 + 6) + "Question:" + 3 + "Answer:" = 39
    assert tally.input_tokens == 39


async def test_an_empty_store_still_answers_and_says_nothing_was_found() -> None:
    rag = _rag(OfflineLLM())
    with synapsekit.track(keep_calls=True) as tally:
        await rag.aquery("What is SynapseKit?")
    assert tally.calls == 1
    assert "Context:\n(no documents found)\n\nQuestion: What is SynapseKit?" in (
        tally.finished_calls[0].prompt_text or ""
    )
    # 19 + "Context:" + 3 + "Question:" + 3 + "Answer:" = 28
    assert tally.input_tokens == 28


async def test_astream_yields_the_answer_in_chunks_from_one_streamed_call() -> None:
    rag = _rag(OfflineLLM())
    await rag.aadd([DOC])
    with synapsekit.track(keep_calls=True) as tally:
        chunks = [chunk async for chunk in rag.astream("What is SynapseKit?")]
    assert len(chunks) == 12
    assert "".join(chunks) == await rag.aquery("What is SynapseKit?")
    [call] = tally.finished_calls
    assert call.streamed
    assert (call.input_tokens, call.output_tokens) == (32, 12)


async def test_kwargs_reach_the_llm_and_braces_in_text_are_kept_verbatim() -> None:
    rag = _rag(OfflineLLM(), prompt_template="Q: {question}\nC: {context}")
    await rag.aadd(["a {context} placeholder and {0} braces"])
    with synapsekit.track(keep_calls=True) as tally:
        answer = await rag.aquery("what about {question}?", max_tokens=3)
    assert len(answer.split()) == 3
    assert tally.finished_calls[0].prompt_text == (
        "Q: what about {question}?\nC: [1] a {context} placeholder and {0} braces"
    )


async def test_aadd_passes_metadata_to_the_store() -> None:
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    rag = RAG(RAGConfig(llm=OfflineLLM(), vector_store=store))
    [doc_id] = await rag.aadd([DOC], [{"source": "readme"}])
    [document] = await store.asearch("SynapseKit", k=1)
    assert (document.id, document.metadata) == (doc_id, {"source": "readme"})


def test_config_defaults_and_bad_config() -> None:
    store = InMemoryVectorStore(SynapsekitEmbeddings())
    config = RAGConfig(llm=OfflineLLM(), vector_store=store)
    assert (config.top_k, config.prompt_template) == (4, DEFAULT_PROMPT_TEMPLATE)
    with pytest.raises(ValueError, match="top_k must be > 0, got 0"):
        RAGConfig(llm=OfflineLLM(), vector_store=store, top_k=0)
    with pytest.raises(TypeError, match="top_k must be an int"):
        RAGConfig(llm=OfflineLLM(), vector_store=store, top_k=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"prompt_template must contain \{question\}"):
        RAGConfig(llm=OfflineLLM(), vector_store=store, prompt_template="Context: {context}")
    with pytest.raises(TypeError, match="llm must have an async generate"):
        RAGConfig(llm="gpt-4o-mini", vector_store=store)


async def test_bad_questions_are_rejected_before_any_llm_call() -> None:
    rag = _rag(OfflineLLM())
    with synapsekit.track() as tally:
        with pytest.raises(ValueError, match="question must not be empty"):
            await rag.aquery("   ")
        with pytest.raises(TypeError, match="question must be a str, got NoneType"):
            await rag.aquery(None)  # type: ignore[arg-type]
    assert tally.calls == 0

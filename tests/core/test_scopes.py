"""Scopes in nested code, sibling blocks, asyncio tasks and threads."""

from __future__ import annotations

import asyncio
import concurrent.futures

import synapsekit
from synapsekit import OfflineLLM
from synapsekit._core.context import active_scopes
from synapsekit.observability import TokenTracer

PROMPT = "Explain RAG in one sentence."  # 5 words → 5 input tokens; OfflineLLM answers 12 tokens


async def test_nested_scopes_all_see_inner_calls_and_siblings_are_separate() -> None:
    llm = OfflineLLM()
    with synapsekit.track() as outer:
        await llm.generate(PROMPT)
        with synapsekit.track() as first:
            await llm.generate(PROMPT)
        async with synapsekit.track() as second:
            await llm.generate(PROMPT)
            await llm.generate(PROMPT)
    assert active_scopes() == ()
    assert outer.tokens == {"input": 20, "output": 48, "total": 68}
    assert first.tokens == {"input": 5, "output": 12, "total": 17}
    assert second.tokens == {"input": 10, "output": 24, "total": 34}


async def test_one_thousand_tasks_each_with_its_own_tracer_and_one_shared() -> None:
    llm = OfflineLLM()
    shared = TokenTracer(llm)
    own = [TokenTracer(llm) for _ in range(1000)]

    async def work(index: int) -> None:
        prompt = " ".join(["w"] * (index % 7 + 1))
        await own[index].generate(prompt)
        await shared.generate(prompt)

    await asyncio.gather(*(work(i) for i in range(1000)))
    for index, tracer in enumerate(own):
        assert tracer.tokens_used == {"input": index % 7 + 1, "output": 12, "total": index % 7 + 13}
    expected_input = sum(i % 7 + 1 for i in range(1000))
    assert shared.tokens_used == {"input": expected_input, "output": 12_000, "total": expected_input + 12_000}
    assert active_scopes() == ()


async def test_tasks_created_inside_a_scope_report_to_it() -> None:
    llm = OfflineLLM()
    with synapsekit.track() as tally:
        await asyncio.gather(*(asyncio.create_task(llm.generate("a b")) for _ in range(10)))
    assert tally.tokens == {"input": 20, "output": 120, "total": 140}


def _generate_in_thread(prompt: str) -> str:
    return asyncio.run(OfflineLLM().generate(prompt))


def test_thread_pool_with_the_propagation_helper() -> None:
    with synapsekit.track() as tally, concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(synapsekit.with_current_context(_generate_in_thread), "a b c") for _ in range(8)
        ]
        for future in futures:
            future.result()
    assert tally.tokens == {"input": 24, "output": 96, "total": 120}


def test_thread_pool_without_propagation_does_not_see_the_scope() -> None:
    with synapsekit.track() as tally, concurrent.futures.ThreadPoolExecutor(2) as pool:
        pool.submit(_generate_in_thread, "a b c").result()
    assert tally.calls == 0


def test_context_executor_and_opt_in_patch() -> None:
    with synapsekit.track() as tally:
        with synapsekit.ContextThreadPoolExecutor(2) as pool:
            pool.submit(_generate_in_thread, "a").result()
        synapsekit.propagate_context_to_thread_pools()
        synapsekit.propagate_context_to_thread_pools()  # idempotent
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                pool.submit(_generate_in_thread, "a").result()
        finally:
            synapsekit.stop_propagating_context_to_thread_pools()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            pool.submit(_generate_in_thread, "a").result()
    assert tally.calls == 2


async def test_run_in_executor_with_patch() -> None:
    loop = asyncio.get_running_loop()
    synapsekit.propagate_context_to_thread_pools()
    try:
        with synapsekit.track() as tally:
            await loop.run_in_executor(None, _generate_in_thread, "a b")
    finally:
        synapsekit.stop_propagating_context_to_thread_pools()
    assert tally.tokens == {"input": 2, "output": 12, "total": 14}


async def test_token_tracer_around_a_pipeline_counts_every_call() -> None:
    class ThreeStepPipeline(OfflineLLM):
        async def generate(self, prompt: str, **kwargs: object) -> str:
            inner = OfflineLLM()
            await inner.generate(prompt)
            await inner.generate(prompt)
            return await inner.generate(prompt)

    tracer = TokenTracer(ThreeStepPipeline())
    await tracer.generate("one two")
    assert tracer.tokens_used == {"input": 6, "output": 36, "total": 42}
    tracer.reset()
    assert tracer.tokens_used == {"input": 0, "output": 0, "total": 0}

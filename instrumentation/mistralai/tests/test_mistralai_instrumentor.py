"""Discovery, exact restoration, an internal failure that must not break the call, and concurrency."""

from __future__ import annotations

import asyncio
import importlib.metadata
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from _mistralai_testkit import COST_4_IN_2_CACHED_12_OUT, chat
from mistralai.client import Mistral
from mistralai.client.chat import Chat
from mistralai.client.embeddings import Embeddings
from synapsekit_instrumentation_mistralai import MistralAIInstrumentor

import synapsekit
from synapsekit._instrumenting.instrument import available_instrumentors
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import CallRecorder, LLMTestServer

PATCHED = [(Chat, name) for name in ("complete", "complete_async", "stream", "stream_async")] + [
    (Embeddings, name) for name in ("create", "create_async")
]


def originals() -> list[Any]:
    return [owner.__dict__[name] for owner, name in PATCHED]


def test_registered_under_the_entry_point_group() -> None:
    [entry_point] = [
        ep
        for ep in importlib.metadata.entry_points(group="synapsekit.instrumentors")
        if ep.name == "mistralai"
    ]
    assert entry_point.load() is MistralAIInstrumentor
    found = available_instrumentors()["mistralai"]
    assert (found.distribution, found.supported, found.module) == (
        "mistralai",
        ">=2.10,<4",
        "mistralai.client",
    )
    assert found.dependency_conflict() is None


def test_instrument_then_uninstrument_restores_the_exact_originals() -> None:
    before = originals()
    assert not any(is_synapsekit_wrapper(obj) for obj in before)
    synapsekit.instrument("mistralai")
    synapsekit.instrument("mistralai")  # idempotent
    assert all(is_synapsekit_wrapper(obj) for obj in originals())
    synapsekit.uninstrument("mistralai")
    assert all(now is then for now, then in zip(originals(), before, strict=True))
    synapsekit.uninstrument("mistralai")
    assert all(now is then for now, then in zip(originals(), before, strict=True))


def test_uninstrumented_client_is_not_counted(client: Mistral, sink: CallRecorder) -> None:
    synapsekit.instrument("mistralai")
    synapsekit.uninstrument("mistralai")
    client.chat.complete(**chat())
    for _ in client.chat.stream(**chat()):
        pass
    assert sink.ended == []


def test_reinstrumenting_counts_again(client: Mistral, sink: CallRecorder) -> None:
    for _ in range(2):
        synapsekit.instrument("mistralai")
        client.chat.complete(**chat())
        synapsekit.uninstrument("mistralai")
    assert [call.output_tokens for call in sink.ended] == [12, 12]


def test_an_internal_failure_never_breaks_the_request_outside_strict_mode(
    client: Mistral, sink: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapsekit_instrumentation_mistralai import _wrappers

    from synapsekit._core.errors import set_strict

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("synapsekit bug")

    monkeypatch.setattr(_wrappers, "server_of", broken)
    set_strict(False)
    synapsekit.instrument("mistralai")
    try:
        response = client.chat.complete(**chat())
        events = list(client.chat.stream(**chat()))
    finally:
        synapsekit.uninstrument("mistralai")
        set_strict(True)
    assert response.usage is not None and response.usage.completion_tokens == 12
    assert len(events) == 14
    assert sink.ended == []


@pytest.mark.usefixtures("instrumented")
def test_threads_count_into_the_scope_that_sent_them(server: LLMTestServer, sink: CallRecorder) -> None:
    def one_call(client: Mistral, index: int) -> int:
        headers = {"x-test-output-tokens": str(index % 7 + 1), "x-test-cached-tokens": "2"}
        with synapsekit.track() as own:
            if index % 2:
                client.chat.complete(**chat(http_headers=headers))
            else:
                for _ in client.chat.stream(**chat(http_headers=headers)):
                    pass
        return own.output_tokens

    with (
        Mistral(api_key="test", server_url=server.mistral_base_url) as client,
        synapsekit.track() as everything,
        synapsekit.ContextThreadPoolExecutor(max_workers=8) as pool,
    ):
        results = list(pool.map(lambda index: one_call(client, index), range(40)))
    assert results == [index % 7 + 1 for index in range(40)]
    assert everything.tokens == {"input": 160, "output": sum(results), "total": 160 + sum(results)}
    assert (everything.calls, everything.cached_input_tokens, everything.estimated_calls) == (40, 80, 0)
    assert len({call.response_id for call in sink.ended}) == 40


@pytest.mark.usefixtures("instrumented")
async def test_concurrent_async_calls(async_client: Mistral, server: LLMTestServer) -> None:
    async def one_call(index: int) -> float:
        with synapsekit.track() as own:
            if index % 2:
                await async_client.chat.complete_async(**chat())
            else:
                async for _ in await async_client.chat.stream_async(**chat()):
                    pass
        return own.cost_usd

    with synapsekit.track() as everything:
        costs = await asyncio.gather(*(one_call(index) for index in range(30)))
    assert costs == [pytest.approx(float(COST_4_IN_2_CACHED_12_OUT))] * 30
    assert everything.cost_usd_decimal == 30 * COST_4_IN_2_CACHED_12_OUT
    assert (everything.calls, server.request_count) == (30, 30)


def test_plain_thread_pool_without_context_is_still_counted_once(server: LLMTestServer) -> None:
    # Without the caller's context a thread's call reaches the process-wide sinks only, exactly once.
    with (
        CallRecorder() as sink,
        Mistral(api_key="test", server_url=server.mistral_base_url) as client,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        synapsekit.instrument("mistralai")
        try:
            list(pool.map(lambda _: client.chat.complete(**chat()), range(8)))
        finally:
            synapsekit.uninstrument("mistralai")
    assert len(sink.ended) == 8

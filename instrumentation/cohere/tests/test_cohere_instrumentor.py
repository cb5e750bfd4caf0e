"""Discovery, exact restoration, an internal failure that must not break the call, spans and concurrency."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from collections.abc import Iterator
from typing import Any

import cohere
import pytest
from _cohere_testkit import COST_4_IN_12_OUT, EMBED_INPUTS, EMBED_MODEL, MODEL, chat, options, stream_text
from cohere.v2.raw_client import AsyncRawV2Client, RawV2Client
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from synapsekit_instrumentation_cohere import CohereInstrumentor

import synapsekit
from synapsekit._core import config as _config
from synapsekit._instrumenting.instrument import available_instrumentors
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import CallRecorder, LLMTestServer

PATCHED = [
    (owner, name) for owner in (RawV2Client, AsyncRawV2Client) for name in ("chat", "chat_stream", "embed")
]


def originals() -> list[Any]:
    return [owner.__dict__[name] for owner, name in PATCHED]


def test_registered_under_the_entry_point_group() -> None:
    [entry_point] = [
        ep for ep in importlib.metadata.entry_points(group="synapsekit.instrumentors") if ep.name == "cohere"
    ]
    assert entry_point.load() is CohereInstrumentor
    found = available_instrumentors()["cohere"]
    assert (found.distribution, found.supported, found.module) == ("cohere", ">=5.16,<8", "cohere")
    assert found.dependency_conflict() is None


def test_instrument_then_uninstrument_restores_the_exact_originals() -> None:
    before = originals()
    assert not any(is_synapsekit_wrapper(obj) for obj in before)
    synapsekit.instrument("cohere")
    synapsekit.instrument("cohere")  # idempotent
    assert all(is_synapsekit_wrapper(obj) for obj in originals())
    synapsekit.uninstrument("cohere")
    assert all(now is then for now, then in zip(originals(), before, strict=True))
    synapsekit.uninstrument("cohere")
    assert all(now is then for now, then in zip(originals(), before, strict=True))


def test_uninstrumented_client_is_not_counted(client: cohere.ClientV2, sink: CallRecorder) -> None:
    synapsekit.instrument("cohere")
    synapsekit.uninstrument("cohere")
    client.chat(**chat())
    stream_text(client)
    assert sink.ended == []


def test_an_internal_failure_never_breaks_the_request_outside_strict_mode(
    client: cohere.ClientV2, sink: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapsekit_instrumentation_cohere import _wrappers

    from synapsekit._core.errors import set_strict

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("synapsekit bug")

    monkeypatch.setattr(_wrappers, "server_of", broken)
    set_strict(False)
    synapsekit.instrument("cohere")
    try:
        response = client.chat(**chat())
        text = stream_text(client)
    finally:
        synapsekit.uninstrument("cohere")
        set_strict(True)
    assert response.usage is not None and response.usage.billed_units is not None
    assert len(text.split()) == 12
    assert sink.ended == []


# -- spans ---------------------------------------------------------------------------------------------------


def only_span(exporter: Any) -> ReadableSpan:
    finished: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    assert len(finished) == 1, [span.name for span in finished]
    return finished[0]


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("streamed", [False, True])
def test_one_client_span_per_request(
    streamed: bool, client: cohere.ClientV2, server: LLMTestServer, span_exporter: Any
) -> None:
    if streamed:
        stream_text(client)
    else:
        client.chat(**chat())
    span = only_span(span_exporter)
    assert (span.name, span.kind, span.instrumentation_scope.name) == (
        f"chat {MODEL}",
        SpanKind.CLIENT,
        "synapsekit",
    )
    attributes = dict(span.attributes or {})
    keys = (
        "gen_ai.provider.name",
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.request.max_tokens",
        "gen_ai.response.id",
        "gen_ai.response.finish_reasons",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "server.address",
        "server.port",
    )
    assert {key: attributes.get(key) for key in keys} == {
        "gen_ai.provider.name": "cohere",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.response.id": "00000000-0000-0000-0000-000000000001",
        "gen_ai.response.finish_reasons": ("COMPLETE",),
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 2,
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }
    assert attributes["gen_ai.usage.cost"] == pytest.approx(float(COST_4_IN_12_OUT), abs=1e-15)


@pytest.mark.usefixtures("instrumented")
async def test_async_embed_and_error_spans(async_client: cohere.AsyncClientV2, span_exporter: Any) -> None:
    await async_client.embed(
        model=EMBED_MODEL, texts=EMBED_INPUTS, input_type="search_document", request_options=options()
    )
    span = only_span(span_exporter)
    assert span.name == f"embeddings {EMBED_MODEL}"
    assert dict(span.attributes or {})["gen_ai.usage.input_tokens"] == 5
    span_exporter.clear()
    with pytest.raises(cohere.InternalServerError):
        await async_client.chat(**chat(request_options=options(**{"x-test-status": "500"})))
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "InternalServerError"


@pytest.fixture
def capture() -> Iterator[None]:
    _config.set_capture_content(True)
    yield
    _config.set_capture_content(None)


@pytest.mark.usefixtures("instrumented", "capture")
@pytest.mark.parametrize("streamed", [False, True])
def test_content_when_opted_in(streamed: bool, client: cohere.ClientV2, span_exporter: Any) -> None:
    if streamed:
        stream_text(client, max_tokens=3)
    else:
        client.chat(**chat(max_tokens=3))
    attributes = dict(only_span(span_exporter).attributes or {})
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "How are you today"}]}
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the"}],
            "finish_reason": "MAX_TOKENS",
        }
    ]


# -- concurrency ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("instrumented")
def test_threads_count_into_the_scope_that_sent_them(client: cohere.ClientV2, sink: CallRecorder) -> None:
    def one_call(index: int) -> int:
        headers = options(**{"x-test-output-tokens": str(index % 7 + 1)})
        with synapsekit.track() as own:
            if index % 2:
                client.chat(**chat(request_options=headers))
            else:
                stream_text(client, request_options=headers)
        return own.output_tokens

    with synapsekit.track() as everything, synapsekit.ContextThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one_call, range(40)))
    assert results == [index % 7 + 1 for index in range(40)]
    assert everything.tokens == {"input": 160, "output": sum(results), "total": 160 + sum(results)}
    assert (everything.calls, everything.estimated_calls, len(sink.ended)) == (40, 0, 40)


@pytest.mark.usefixtures("instrumented")
async def test_concurrent_async_calls(async_client: cohere.AsyncClientV2, server: LLMTestServer) -> None:
    async def one_call(index: int) -> float:
        with synapsekit.track() as own:
            if index % 2:
                await async_client.chat(**chat())
            else:
                async for _ in async_client.chat_stream(**chat()):
                    pass
        return own.cost_usd

    with synapsekit.track() as everything:
        costs = await asyncio.gather(*(one_call(index) for index in range(30)))
    assert costs == [pytest.approx(float(COST_4_IN_12_OUT))] * 30
    assert everything.cost_usd_decimal == 30 * COST_4_IN_12_OUT
    assert (everything.calls, server.request_count) == (30, 30)

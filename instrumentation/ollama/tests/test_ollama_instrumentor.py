"""Discovery, exact restoration, an internal failure that must not break the call, spans and concurrency."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from collections.abc import Iterator
from typing import Any

import ollama
import pytest
from _ollama_testkit import EMBED_INPUTS, EMBED_MODEL, MODEL, USER, send, send_async
from ollama._client import AsyncClient, Client
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from synapsekit_instrumentation_ollama import OllamaInstrumentor

import synapsekit
from synapsekit._core import config as _config
from synapsekit._instrumenting.instrument import available_instrumentors
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import CallRecorder, LLMTestServer


def originals() -> list[Any]:
    return [Client.__dict__["_request"], AsyncClient.__dict__["_request"]]


def test_registered_under_the_entry_point_group() -> None:
    [entry_point] = [
        ep for ep in importlib.metadata.entry_points(group="synapsekit.instrumentors") if ep.name == "ollama"
    ]
    assert entry_point.load() is OllamaInstrumentor
    found = available_instrumentors()["ollama"]
    assert (found.distribution, found.supported, found.module) == ("ollama", ">=0.4,<0.7", "ollama")
    assert found.dependency_conflict() is None


def test_instrument_then_uninstrument_restores_the_exact_originals() -> None:
    before = originals()
    assert not any(is_synapsekit_wrapper(obj) for obj in before)
    synapsekit.instrument("ollama")
    synapsekit.instrument("ollama")  # idempotent
    assert all(is_synapsekit_wrapper(obj) for obj in originals())
    synapsekit.uninstrument("ollama")
    assert all(now is then for now, then in zip(originals(), before, strict=True))
    synapsekit.uninstrument("ollama")
    assert all(now is then for now, then in zip(originals(), before, strict=True))


def test_uninstrumented_client_is_not_counted(client: ollama.Client, sink: CallRecorder) -> None:
    synapsekit.instrument("ollama")
    synapsekit.uninstrument("ollama")
    send(client, "chat")
    send(client, "chat_stream")
    assert sink.ended == []


def test_an_internal_failure_never_breaks_the_request_outside_strict_mode(
    client: ollama.Client, sink: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapsekit_instrumentation_ollama import _wrappers

    from synapsekit._core.errors import set_strict

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("synapsekit bug")

    monkeypatch.setattr(_wrappers, "server_of", broken)
    set_strict(False)
    synapsekit.instrument("ollama")
    try:
        texts = [send(client, "chat"), send(client, "generate_stream")]
    finally:
        synapsekit.uninstrument("ollama")
        set_strict(True)
    assert [len(text.split()) for text in texts] == [12, 12]
    assert sink.ended == []


# -- spans ---------------------------------------------------------------------------------------------------


def only_span(exporter: Any) -> ReadableSpan:
    finished: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    assert len(finished) == 1, [span.name for span in finished]
    return finished[0]


SPAN_KEYS = (
    "gen_ai.provider.name",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.request.max_tokens",
    "gen_ai.response.model",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cost",
    "server.address",
    "server.port",
)


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize(("mode", "operation"), [("chat_stream", "chat"), ("generate", "text_completion")])
def test_one_client_span_per_request(
    mode: str, operation: str, client: ollama.Client, server: LLMTestServer, span_exporter: Any
) -> None:
    send(client, mode, num_predict=5)
    span = only_span(span_exporter)
    assert (span.name, span.kind) == (f"{operation} {MODEL}", SpanKind.CLIENT)
    attributes = dict(span.attributes or {})
    assert {key: attributes.get(key) for key in SPAN_KEYS} == {
        "gen_ai.provider.name": "ollama",
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 5,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("length",),
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cost": 0.0,
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }


@pytest.mark.usefixtures("instrumented")
async def test_async_embed_and_error_spans(server: LLMTestServer, span_exporter: Any) -> None:
    await ollama.AsyncClient(host=server.ollama_base_url).embed(model=EMBED_MODEL, input=EMBED_INPUTS)
    span = only_span(span_exporter)
    assert span.name == f"embeddings {EMBED_MODEL}"
    assert dict(span.attributes or {})["gen_ai.usage.input_tokens"] == 5
    span_exporter.clear()
    failing = ollama.AsyncClient(host=server.ollama_base_url, headers={"x-test-status": "500"})
    with pytest.raises(ollama.ResponseError):
        await send_async(failing, "chat_stream")
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "ResponseError"


@pytest.fixture
def capture() -> Iterator[None]:
    _config.set_capture_content(True)
    yield
    _config.set_capture_content(None)


@pytest.mark.usefixtures("instrumented", "capture")
@pytest.mark.parametrize("mode", ["chat", "generate_stream"])
def test_content_when_opted_in(mode: str, client: ollama.Client, span_exporter: Any) -> None:
    send(client, mode, num_predict=3)
    attributes = dict(only_span(span_exporter).attributes or {})
    expected_input = (
        [{"role": "user", "parts": [{"type": "text", "content": "How are you today"}]}]
        if mode == "chat"
        else [
            {"role": "system", "parts": [{"type": "text", "content": "today"}]},
            {"role": "user", "parts": [{"type": "text", "content": "How are you"}]},
        ]
    )
    assert json.loads(str(attributes["gen_ai.input.messages"])) == expected_input
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the"}],
            "finish_reason": "length",
        }
    ]


# -- concurrency ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("instrumented")
def test_threads_count_into_the_scope_that_sent_them(server: LLMTestServer, sink: CallRecorder) -> None:
    client = ollama.Client(host=server.ollama_base_url)

    def one_call(index: int) -> int:
        with synapsekit.track() as own:
            send(
                client,
                ("chat", "chat_stream", "generate", "generate_stream")[index % 4],
                num_predict=index % 9 + 1,
            )
        return own.output_tokens

    with synapsekit.track() as everything, synapsekit.ContextThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one_call, range(40)))
    assert results == [index % 9 + 1 for index in range(40)]
    assert everything.tokens == {"input": 160, "output": sum(results), "total": 160 + sum(results)}
    assert (everything.calls, everything.cost_usd, len(sink.ended)) == (40, 0.0, 40)


@pytest.mark.usefixtures("instrumented")
async def test_concurrent_async_calls_under_one_token_budget(server: LLMTestServer) -> None:
    client = ollama.AsyncClient(host=server.ollama_base_url)

    async def one_call(index: int) -> int:
        with synapsekit.track() as own:
            await send_async(
                client, ("chat", "chat_stream", "generate", "generate_stream")[index % 4], num_predict=4
            )
        return own.total_tokens

    # Each request reserves its worst case, 5 estimated input + 4: all 30 fit in flight together, and
    # settle to their exact 4 + 4.
    with synapsekit.budget(max_tokens=30 * 9) as scope:
        totals = await asyncio.gather(*(one_call(index) for index in range(30)))
    assert totals == [8] * 30
    assert (scope.spent_tokens, server.request_count) == (240, 30)
    with synapsekit.budget(max_tokens=7), pytest.raises(synapsekit.BudgetExceeded):
        await client.chat(model=MODEL, messages=USER, options={"num_predict": 4})
    assert server.request_count == 30

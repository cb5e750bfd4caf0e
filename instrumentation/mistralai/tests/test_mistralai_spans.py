"""One CLIENT span per request, named and attributed as the GenAI conventions say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _mistralai_testkit import EMBED_INPUTS, EMBED_MODEL, MODEL, chat
from mistralai.client import Mistral, errors
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from synapsekit._core import config as _config
from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")


def only_span(exporter: Any) -> ReadableSpan:
    finished: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    assert len(finished) == 1, [span.name for span in finished]
    return finished[0]


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_chat_span(mode: str, client: Mistral, server: LLMTestServer, span_exporter: Any) -> None:
    if mode == "complete":
        client.chat.complete(**chat())
    else:
        for _ in client.chat.stream(**chat()):
            pass
    span = only_span(span_exporter)
    assert (span.name, span.kind, span.instrumentation_scope.name) == (
        f"chat {MODEL}",
        SpanKind.CLIENT,
        "synapsekit",
    )
    attributes = dict(span.attributes or {})
    assert {
        key: attributes.get(key)
        for key in (
            "gen_ai.provider.name",
            "gen_ai.operation.name",
            "gen_ai.request.model",
            "gen_ai.request.max_tokens",
            "gen_ai.response.model",
            "gen_ai.response.id",
            "gen_ai.response.finish_reasons",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.cache_read.input_tokens",
            "server.address",
            "server.port",
            "gen_ai.request.stream",
        )
    } == {
        "gen_ai.provider.name": "mistral_ai",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.id": "000000000000000000000001",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 2,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.stream": True if mode == "stream" else None,  # set on streamed calls only
    }
    assert attributes["gen_ai.usage.cost"] == pytest.approx(0.00000753, abs=1e-15)
    assert span.status.status_code is not StatusCode.ERROR


async def test_async_embeddings_span(async_client: Mistral, span_exporter: Any) -> None:
    await async_client.embeddings.create_async(model=EMBED_MODEL, inputs=EMBED_INPUTS)
    span = only_span(span_exporter)
    attributes = dict(span.attributes or {})
    assert span.name == f"embeddings {EMBED_MODEL}"
    assert (attributes["gen_ai.provider.name"], attributes["gen_ai.operation.name"]) == (
        "mistral_ai",
        "embeddings",
    )
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (5, 0)


def test_error_span(client: Mistral, span_exporter: Any) -> None:
    with pytest.raises(errors.SDKError):
        client.chat.complete(**chat(http_headers={"x-test-status": "429"}))
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "SDKError"


@pytest.fixture
def capture() -> Iterator[None]:
    _config.set_capture_content(True)
    yield
    _config.set_capture_content(None)


def test_no_content_by_default(client: Mistral, span_exporter: Any) -> None:
    client.chat.complete(**chat())
    attributes = dict(only_span(span_exporter).attributes or {})
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes


@pytest.mark.usefixtures("capture")
@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_content_when_opted_in(mode: str, client: Mistral, span_exporter: Any) -> None:
    if mode == "complete":
        client.chat.complete(**chat(max_tokens=3))
    else:
        for _ in client.chat.stream(**chat(max_tokens=3)):
            pass
    attributes = dict(only_span(span_exporter).attributes or {})
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "How are you today"}]}
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the"}],
            "finish_reason": "length",
        }
    ]

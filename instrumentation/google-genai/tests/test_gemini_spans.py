"""Exactly one CLIENT span per request, named and attributed as the GenAI conventions say."""

from __future__ import annotations

from typing import Any

import pytest
from _gemini_testkit import (
    EMBEDDING_MODEL,
    EMBEDDING_USAGE,
    HAS_RESPONSE_ID,
    MODEL,
    config,
    flash_cost,
    generate,
    generate_async,
    provider_of,
)
from google import genai
from google.genai import errors
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

MODES = ["generate", "stream"]


def only_span(span_exporter: Any) -> Any:
    [span] = span_exporter.get_finished_spans()
    assert (span.kind, span.instrumentation_scope.name) == (SpanKind.CLIENT, "synapsekit")
    return span


def expected_attributes(client: genai.Client, server: LLMTestServer, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": provider_of(client),
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.max_tokens": 20,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 2,
        "gen_ai.usage.reasoning.output_tokens": 3,
        "gen_ai.usage.cost": pytest.approx(float(flash_cost(4, 12, cached=2))),
        **({"gen_ai.response.id": "000000000000000000000001"} if HAS_RESPONSE_ID else {}),
        **extra,
    }


def span_attributes(span: Any, mode: str) -> dict[str, Any]:
    attributes = dict(span.attributes)
    if mode == "stream":
        assert attributes.pop("gen_ai.request.stream") is True
        assert attributes.pop("gen_ai.response.time_to_first_chunk") > 0
    return attributes


REQUEST = {
    "config": config({"x-test-cached-tokens": "2", "x-test-reasoning-tokens": "3"}, max_output_tokens=20)
}


@pytest.mark.parametrize("mode", MODES)
def test_one_span_per_request(
    any_client: genai.Client, server: LLMTestServer, span_exporter: Any, mode: str
) -> None:
    generate(any_client, mode, **REQUEST)
    span = only_span(span_exporter)
    assert span.name == f"generate_content {MODEL}"
    assert span_attributes(span, mode) == expected_attributes(any_client, server)
    assert span.status.status_code == StatusCode.UNSET


@pytest.mark.parametrize("mode", MODES)
async def test_one_span_per_async_request(
    any_client: genai.Client, server: LLMTestServer, span_exporter: Any, mode: str
) -> None:
    await generate_async(any_client, mode, **REQUEST)
    span = only_span(span_exporter)
    assert span_attributes(span, mode) == expected_attributes(any_client, server)


def test_embeddings_span(client: genai.Client, span_exporter: Any) -> None:
    client.models.embed_content(model=EMBEDDING_MODEL, contents=["one two", "three"])
    span = only_span(span_exporter)
    assert span.name == f"embeddings {EMBEDDING_MODEL}"
    attributes = dict(span.attributes)
    assert (
        attributes["gen_ai.operation.name"],
        attributes["gen_ai.provider.name"],
        attributes["gen_ai.usage.input_tokens"],
        attributes["gen_ai.usage.output_tokens"],
    ) == ("embeddings", "gcp.gemini", 3 if EMBEDDING_USAGE else 4, 0)


def test_span_of_a_failed_request(client: genai.Client, span_exporter: Any) -> None:
    with pytest.raises(errors.ClientError):
        generate(client, "generate", config=config({"x-test-status": "429"}))
    span = only_span(span_exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "ClientError"


@pytest.mark.parametrize("mode", MODES)
def test_request_span_is_a_child_of_the_callers_span(
    client: genai.Client, span_exporter: Any, mode: str
) -> None:
    with trace.get_tracer("test").start_as_current_span("pipeline"):
        generate(client, mode)
    spans = {span.name: span for span in span_exporter.get_finished_spans()}
    assert set(spans) == {"pipeline", f"generate_content {MODEL}"}
    assert spans[f"generate_content {MODEL}"].parent.span_id == spans["pipeline"].context.span_id

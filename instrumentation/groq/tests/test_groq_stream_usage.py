"""Groq's streams are asked for their usage on the caller's behalf, unless instrumenting was told not to."""

from __future__ import annotations

from collections.abc import Iterator

import groq
import pytest

from synapsekit.testing import CallRecorder, LLMTestServer

MODEL = "llama-3.1-8b-instant"
MESSAGES = [{"role": "user", "content": "one two three"}]


@pytest.fixture
def instrumented_without_stream_usage() -> Iterator[None]:
    from synapsekit_instrumentation_groq import GroqInstrumentor

    instrumentor = GroqInstrumentor()
    instrumentor.instrument(include_stream_usage=False)
    yield
    instrumentor.uninstrument()


@pytest.mark.usefixtures("instrumented_without_stream_usage")
def test_include_stream_usage_false_sends_the_request_unchanged(
    client: groq.Groq, server: LLMTestServer, sink: CallRecorder
) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    [request] = server.requests
    assert "stream_options" not in request.json
    assert all(chunk.choices for chunk in chunks)
    call = sink.only
    # No usage reached us: estimated, and marked so (the prompt's 13 characters → 4 tokens).
    assert (call.usage_estimated, call.input_tokens) == (True, 4)


@pytest.mark.usefixtures("instrumented")
def test_a_caller_who_declined_usage_is_not_overridden(
    client: groq.Groq, server: LLMTestServer, sink: CallRecorder
) -> None:
    list(
        client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            extra_body={"stream_options": {"include_usage": False}},
        )
    )  # type: ignore[arg-type]
    [request] = server.requests
    assert request.json["stream_options"] == {"include_usage": False}
    assert sink.only.usage_estimated is True


@pytest.mark.usefixtures("instrumented")
def test_models_list_is_not_a_call(client: groq.Groq, server: LLMTestServer, sink: CallRecorder) -> None:
    with pytest.raises(groq.NotFoundError):
        client.models.list()  # GET /openai/v1/models: the test server has none
    assert sink.ended == []

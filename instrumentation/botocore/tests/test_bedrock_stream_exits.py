"""Every way a Bedrock event stream ends finalises its call exactly once; the caller keeps botocore's stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _bedrock_testkit import CACHE_HEADERS, CLAUDE, LLAMA, MESSAGES, anthropic_body, llama_body, sending
from botocore.eventstream import EventStream

from synapsekit.testing import CallRecorder, collect_garbage

pytestmark = pytest.mark.usefixtures("instrumented")

KINDS = ["converse", "invoke_anthropic", "invoke_llama"]


def open_stream(client: Any, kind: str) -> Any:
    with sending(client, **CACHE_HEADERS):
        if kind == "converse":
            return client.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"]
        model, body = (CLAUDE, anthropic_body()) if kind == "invoke_anthropic" else (LLAMA, llama_body())
        return client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))["body"]


def first_text(event: dict[str, Any]) -> str | None:
    """The text of a content event, in either stream's shape."""
    if "contentBlockDelta" in event:
        text: str = event["contentBlockDelta"]["delta"]["text"]
        return text
    if "chunk" in event:
        document = json.loads(event["chunk"]["bytes"])
        if document.get("type") == "content_block_delta":
            return str(document["delta"]["text"])
        if document.get("generation"):
            return str(document["generation"])
    return None


def read_to_first_text(stream: Any) -> None:
    for event in stream:
        if first_text(event) is not None:
            return


def assert_cut_short(sink: CallRecorder, kind: str) -> None:
    collect_garbage()
    call = sink.only
    assert call.error_type is None
    assert call.chunks == 1
    # "Hello" is 5 characters: 2 tokens at 4 characters per token, marked estimated.
    assert (call.output_tokens, call.usage_estimated) == (2, True)
    if kind == "converse":
        # Converse reports usage only at the end: the input is estimated from the prompt (33 characters).
        assert call.input_tokens == 9
    elif kind == "invoke_anthropic":
        assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (7, 3, 2)
    else:
        assert call.input_tokens == 7  # Llama's first chunk counts the prompt; Llama has no cache
    assert call.cost is not None


@pytest.mark.parametrize("kind", KINDS)
def test_the_caller_keeps_botocores_event_stream(kind: str, client: Any, sink: CallRecorder) -> None:
    stream = open_stream(client, kind)
    assert isinstance(stream, EventStream)
    assert callable(stream.close)
    events = list(stream)
    assert sum(first_text(event) is not None for event in events) == 12
    assert sink.only.usage_estimated is False
    # Iterating again after the end yields nothing and ends nothing twice.
    assert list(stream) == []
    assert len(sink.ended) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_break_then_close(kind: str, client: Any, sink: CallRecorder) -> None:
    stream = open_stream(client, kind)
    read_to_first_text(stream)
    assert sink.ended == []
    stream.close()
    stream.close()
    assert_cut_short(sink, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_garbage_collected(kind: str, client: Any, sink: CallRecorder) -> None:
    stream = open_stream(client, kind)
    read_to_first_text(stream)
    del stream
    assert_cut_short(sink, kind)


def test_response_dict_dropped_unread(client: Any, sink: CallRecorder) -> None:
    response = client.converse_stream(modelId=CLAUDE, messages=MESSAGES)
    del response
    collect_garbage()
    call = sink.only
    assert (call.chunks, call.output_tokens, call.input_tokens, call.usage_estimated) == (0, 0, 9, True)


def test_an_exception_in_the_callers_loop_leaves_the_stream_to_close(client: Any, sink: CallRecorder) -> None:
    stream = open_stream(client, "invoke_anthropic")

    def caller() -> None:
        for event in stream:
            if first_text(event) is not None:
                raise RuntimeError("caller's own error")

    with pytest.raises(RuntimeError):
        caller()
    assert sink.ended == []  # the stream is still open and may be read further
    stream.close()
    assert_cut_short(sink, "invoke_anthropic")

"""The chat reader's text of a chunk (what a stream counts): content, refusals and tool-call arguments, read
from the SDK's models as the SDK builds them, and the same text from objects shaped otherwise."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from openai._models import construct_type
from openai.types.chat import ChatCompletionChunk
from synapsekit_instrumentation_openai._chat import ChatChunkReader

from synapsekit.plugin import start_call

pytestmark = pytest.mark.usefixtures("instrumented")


def _chunk(*deltas: dict[str, Any], reasons: tuple[Any, ...] = (), usage: Any = None) -> dict[str, Any]:
    choices = [
        {"index": index, "delta": delta, "finish_reason": reasons[index] if index < len(reasons) else None}
        for index, delta in enumerate(deltas)
    ]
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": choices,
        "usage": usage,
    }


def _tool_call(arguments: str | None) -> dict[str, Any]:
    return {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": arguments}}


CASES = [
    (_chunk({"content": "Hello"}), "Hello"),
    (_chunk({"content": ""}), ""),
    (_chunk({"role": "assistant"}), ""),
    (_chunk({}, reasons=("stop",)), ""),
    (_chunk({"refusal": "I can't"}), "I can't"),
    (_chunk({"content": "a", "refusal": "b"}), "ab"),
    (_chunk({"tool_calls": [_tool_call('{"x": ')]}), '{"x": '),
    (_chunk({"content": "c", "tool_calls": [_tool_call("1}"), _tool_call(None)]}), "c1}"),
    (_chunk({"content": "one"}, {"content": " two"}, reasons=("stop", "length")), "one two"),
]
IDS = [
    "content",
    "empty",
    "role",
    "finish",
    "refusal",
    "content-refusal",
    "tool",
    "content-tools",
    "two-choices",
]


def _read(chunks: list[Any], *, by_attributes: bool = False) -> tuple[list[Any], Any]:
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    reader = ChatChunkReader(call, hide_usage=True)
    read = reader._attribute_text if by_attributes else reader.chunk_text
    texts = [read(chunk) for chunk in chunks]
    call.finish()
    return texts, (call.response_id, call.response_model, call.finish_reasons, reader.finish_reasons)


@pytest.mark.parametrize(("data", "text"), CASES, ids=IDS)
def test_the_text_of_an_sdk_chunk(data: dict[str, Any], text: str) -> None:
    model = construct_type(type_=ChatCompletionChunk, value=data)
    texts, response = _read([model])
    reasons = tuple(choice["finish_reason"] for choice in data["choices"] if choice["finish_reason"])
    assert texts == [text]
    assert response == ("chatcmpl-9", "gpt-4o-mini-2024-07-18", reasons, reasons)
    # The attribute path (objects not shaped like the SDK's models) and plain JSON read the same text.
    assert _read([model], by_attributes=True) == (texts, response)
    assert _read([data]) == (texts, response)


def test_usage_chunks_are_hidden_or_delivered_uncounted() -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    with_usage = construct_type(type_=ChatCompletionChunk, value=_chunk(usage=usage))
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    assert ChatChunkReader(call, hide_usage=True).chunk_text(with_usage) is False
    assert ChatChunkReader(call, hide_usage=False).chunk_text(with_usage) is True
    empty = construct_type(
        type_=ChatCompletionChunk, value=_chunk()
    )  # no choices, no usage (a filter notice)
    assert ChatChunkReader(call, hide_usage=True).chunk_text(empty) is True
    call.finish()
    assert (call.input_tokens, call.output_tokens, call.chunks) == (7, 2, 0)


def test_models_missing_a_field_are_read_by_their_attributes() -> None:
    """A chunk whose models lack a field (an older or compatible SDK) takes the attribute path, same text."""
    without_refusal = SimpleNamespace(content="x", tool_calls=None)
    choice = SimpleNamespace(delta=without_refusal, finish_reason=None)
    no_usage_field = SimpleNamespace(id="chatcmpl-9", model="m", choices=[choice])
    texts, response = _read([no_usage_field, no_usage_field])
    assert texts == ["x", "x"]
    assert response == ("chatcmpl-9", "m", (), ())

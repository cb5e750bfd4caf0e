"""The chat reader's text of a chunk (what a stream counts): content, refusals and tool-call arguments, read
from the SDK's models as the SDK builds them, and the same text from objects shaped otherwise."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import openai
import pytest
from openai._models import construct_type
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from synapsekit_instrumentation_openai._chat import ChatChunkReader, record_chat_completion

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


def _read(chunks: list[Any], *, by_attributes: bool = False, in_full: bool = False) -> tuple[list[Any], Any]:
    """The texts of ``chunks`` read in turn by one reader, and what its call recorded. ``in_full``: every chunk
    read as the first one is (the reader never steady)."""
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    reader = ChatChunkReader(call, hide_usage=True)
    read = reader._attribute_text if by_attributes else reader.chunk_text
    texts = []
    for chunk in chunks:
        if in_full:
            reader.steady = False
        texts.append(read(chunk))
    call.finish()
    return texts, (
        call.response_id,
        call.response_model,
        call.finish_reasons,
        reader.finish_reasons,
        call.input_tokens,
        call.output_tokens,
    )


@pytest.mark.parametrize(("data", "text"), CASES, ids=IDS)
def test_the_text_of_an_sdk_chunk(data: dict[str, Any], text: str) -> None:
    model = construct_type(type_=ChatCompletionChunk, value=data)
    texts, response = _read([model])
    reasons = tuple(choice["finish_reason"] for choice in data["choices"] if choice["finish_reason"])
    assert texts == [text]
    assert response == ("chatcmpl-9", "gpt-4o-mini-2024-07-18", reasons, reasons, None, None)
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
    assert response == ("chatcmpl-9", "m", (), (), None, None)


USAGE = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
LATER_CASES = [
    *CASES,
    (_chunk({"content": "u"}, usage=USAGE), "u"),
    (_chunk({"content": "end"}, reasons=("stop",)), "end"),
    (_chunk(), True),
    ({**_chunk({"content": "n"}), "choices": [{"index": 0, "delta": None, "finish_reason": None}]}, ""),
]
LATER_IDS = [*IDS, "usage-with-content", "content-finish", "no-choices", "no-delta"]


@pytest.mark.parametrize(("data", "text"), LATER_CASES, ids=LATER_IDS)
def test_a_later_chunk_reads_as_a_first_one_would(data: dict[str, Any], text: str | bool) -> None:
    """After the first chunk, one choice of plain content is read in a few steps (the reader is steady); any
    other chunk is still read in full. Texts and everything recorded are those of a reader that reads every
    chunk in full, the SDK's models and plain JSON alike."""
    first = _chunk({"content": "Hi"})
    models = [construct_type(type_=ChatCompletionChunk, value=value) for value in (first, data, first)]
    steady = _read(models)
    assert steady == _read(models, in_full=True)
    assert steady[0] == ["Hi", text, "Hi"]
    assert _read([first, data, first]) == steady
    objects = [
        SimpleNamespace(**{**chunk.__dict__}) for chunk in models
    ]  # no __dict__-shaped models: attributes
    assert _read(objects)[0] == steady[0]


def test_a_reader_is_steady_only_once_the_response_is_known_and_no_text_is_kept() -> None:
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    reader = ChatChunkReader(call, hide_usage=True)
    assert reader.steady is False
    no_id = construct_type(type_=ChatCompletionChunk, value={**_chunk({"content": "a"}), "id": None})
    assert reader.chunk_text(no_id) == "a"
    assert reader.steady is False  # every chunk may be the first to carry the id
    assert reader.chunk_text(construct_type(type_=ChatCompletionChunk, value=_chunk({"content": "b"}))) == "b"
    assert (reader.steady, call.response_id) == (True, "chatcmpl-9")
    call.finish()

    capturing = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    capturing.capture_content = True
    kept = ChatChunkReader(capturing, hide_usage=True)
    for word in ("one", " two"):
        assert (
            kept.chunk_text(construct_type(type_=ChatCompletionChunk, value=_chunk({"content": word})))
            == word
        )
    assert (kept.steady, kept.text) == (False, ["one", " two"])
    capturing.finish()


class _OlderUsage(openai.BaseModel):
    """A usage model of an older or OpenAI-compatible SDK: the details are not fields of it (the server's
    answer keeps them as extra attributes), the prompt details lack ``cache_write_tokens``."""

    prompt_tokens: int
    completion_tokens: int


class _OlderPromptDetails(openai.BaseModel):
    cached_tokens: int | None = None


def _completion(usage: Any) -> Any:
    return SimpleNamespace(
        id="chatcmpl-9",
        model="gpt-4o-mini-2024-07-18",
        choices=[SimpleNamespace(finish_reason="stop")],
        usage=usage,
    )


@pytest.mark.parametrize("shape", ["sdk", "older-models", "plain-json", "attributes-only"])
def test_a_completions_usage_reads_the_same_whatever_its_shape(shape: str) -> None:
    """The SDK's models are read from their ``__dict__``; anything else by its attributes or keys, same counts."""
    json_usage = {
        "prompt_tokens": 11,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    completion: Any
    if shape == "sdk":
        completion = construct_type(type_=ChatCompletion, value=_completion_json(json_usage))
        expected_write = 2
    elif shape == "older-models":
        older = _OlderUsage.model_validate(
            {**json_usage, "prompt_tokens_details": _OlderPromptDetails(cached_tokens=3)}
        )
        assert "prompt_tokens_details" not in older.__dict__  # an extra attribute, read through getattr
        completion = _completion(older)
        expected_write = None
    elif shape == "plain-json":
        completion = _completion_json(json_usage)
        expected_write = 2
    else:
        completion = _Slotted(_completion(_Slotted(json_usage)))
        expected_write = 2
    call = start_call("openai", "chat", "gpt-4o-mini")
    record_chat_completion(call, completion)
    call.finish()
    assert (call.input_tokens, call.output_tokens, call.cached_input_tokens, call.reasoning_tokens) == (
        11,
        5,
        3,
        1,
    )
    assert call.cache_creation_input_tokens == (expected_write or 0)
    assert (call.response_id, call.response_model, call.finish_reasons) == (
        "chatcmpl-9",
        "gpt-4o-mini-2024-07-18",
        ("stop",),
    )


def _completion_json(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": usage,
    }


class _Slotted:
    """An object whose values are attributes only (nothing in a ``__dict__``): dicts' keys as attributes."""

    __slots__ = ("_values",)

    def __init__(self, source: Any) -> None:
        self._values = source if isinstance(source, dict) else vars(source)

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._values[name]
        except KeyError:
            raise AttributeError(name) from None
        return _Slotted(value) if isinstance(value, dict) else value

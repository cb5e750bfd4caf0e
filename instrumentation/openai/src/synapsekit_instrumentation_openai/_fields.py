"""Reading SDK objects and plain JSON alike, and the request parameters every endpoint shares.

Responses arrive as SDK models (``ChatCompletion``) or, through ``with_streaming_response(...).json()``, as
plain dicts; :func:`field` reads both. Request parameters the caller left out arrive as the SDK's
``omit``/``NOT_GIVEN`` sentinels, which :func:`int_param` and :func:`str_param` treat as absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from synapsekit.plugin import PromptParts


def field(obj: Any, name: str) -> Any:
    """``obj.name`` for an SDK model, ``obj[name]`` for a dict; ``None`` when absent."""
    # ``type() is dict`` rather than an ABC isinstance: this runs a dozen times per call on the hot path,
    # and the only mappings we read are the plain dicts of ``json()``.
    if type(obj) is dict:
        return obj.get(name)
    return getattr(obj, name, None)


def int_field(obj: Any, name: str) -> int | None:
    value = field(obj, name)
    return value if type(value) is int else None


def fields(obj: Any, *names: str) -> list[Any]:
    """:func:`field` for several names in one call (a response is read on every request: calls add up).

    Plain loops rather than comprehensions: before Python 3.12 each comprehension is a call of its own.
    """
    values = []
    if type(obj) is dict:
        for name in names:
            values.append(obj.get(name))
    else:
        for name in names:
            values.append(getattr(obj, name, None))
    return values


def int_param(kwargs: Mapping[str, Any], *names: str) -> int | None:
    """The first of ``names`` given as an int (``max_completion_tokens`` wins over ``max_tokens``)."""
    for name in names:
        value = kwargs.get(name)
        if type(value) is int:
            return value
    return None


def str_param(kwargs: Mapping[str, Any], name: str) -> str | None:
    value = kwargs.get(name)
    return value if isinstance(value, str) else None


def content_text(content: Any) -> Iterable[str]:
    """The text of a message's ``content``: a string, or the ``text`` of each content part."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, Iterable) and not isinstance(content, (bytes, Mapping)):
        for part in content:
            text = field(part, "text")
            if isinstance(text, str):
                yield text


def messages_text(messages: Any) -> str | PromptParts:
    """All the text of a list of chat messages, as if joined by newlines (for budget reservations).

    Not joined: the parts' lengths are all a budget's estimate needs, and a long prompt is not copied. One
    message with text content is its text itself: nothing to join or to measure.
    """
    if type(messages) is list:
        if len(messages) == 1:
            message = messages[0]
            content = message.get("content") if type(message) is dict else field(message, "content")
            if type(content) is str:
                return content
        # The usual request, a list of dicts with string contents, read without a generator or an ABC check
        # per message: a budget counts the prompt of every call.
        texts: list[str] = []
        for message in messages:
            content = message.get("content") if type(message) is dict else field(message, "content")
            if type(content) is str:
                texts.append(content)
            else:
                texts.extend(content_text(content))
        return PromptParts(texts)
    if not isinstance(messages, Iterable) or isinstance(messages, (str, bytes, Mapping)):
        return PromptParts([])
    return PromptParts([text for message in messages for text in content_text(field(message, "content"))])


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat messages in the GenAI conventions' structure, for content capture (text parts only)."""
    if not isinstance(messages, Iterable) or isinstance(messages, (str, bytes, Mapping)):
        return []
    return [
        {
            "role": str(field(message, "role") or "user"),
            "parts": [{"type": "text", "content": text} for text in content_text(field(message, "content"))],
        }
        for message in messages
    ]


def output_message(text: str, finish_reason: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message

"""What a mistralai request says about the call: model, output cap, prompt text, where it goes.

Request parameters arrive as the caller wrote them: plain dicts (the SDK's TypedDicts) or the SDK's pydantic
models, and parameters left out are absent from ``kwargs`` (an explicit ``UNSET``/``None`` is no number).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

PROVIDER = "mistral_ai"


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a dict, ``obj.name`` for an SDK model; None when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def int_value(value: Any) -> int | None:
    return value if type(value) is int else None


def str_value(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def content_texts(content: Any) -> Iterator[str]:
    """The text of a message's ``content``: a string, or its text chunks (and a thinking chunk's texts)."""
    if isinstance(content, str):
        yield content
        return
    if not isinstance(content, Iterable) or isinstance(content, (bytes, Mapping)):
        return
    for chunk in content:
        text = field(chunk, "text")
        if isinstance(text, str):
            yield text
        thinking = field(chunk, "thinking")
        if thinking is not None:
            yield from content_texts(thinking)


def messages_text(messages: Any) -> str:
    """All the text of the request's messages, for a budget's reservation (read only when needed)."""
    if not isinstance(messages, Iterable) or isinstance(messages, (str, bytes, Mapping)):
        return ""
    return "\n".join(text for message in messages for text in content_texts(field(message, "content")))


def inputs_text(inputs: Any) -> str:
    """The text of an embeddings request's ``inputs``: a string or a list of strings."""
    if isinstance(inputs, str):
        return inputs
    if isinstance(inputs, Iterable) and not isinstance(inputs, (bytes, Mapping)):
        return "\n".join(item for item in inputs if isinstance(item, str))
    return ""


def server_of(resource: Any, kwargs: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """Host and port the request goes to: the call's ``server_url``, else the client's configured server."""
    url = kwargs.get("server_url")
    if not isinstance(url, str) or not url:
        url, _ = resource.sdk_configuration.get_server_details()
    parts = urlsplit(url)
    if not parts.hostname:
        return None, None
    return parts.hostname, parts.port or (80 if parts.scheme == "http" else 443)


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat messages in the GenAI conventions' structure, for opted-in content capture (text parts only)."""
    if not isinstance(messages, Iterable) or isinstance(messages, (str, bytes, Mapping)):
        return []
    return [
        {
            "role": str(field(message, "role") or "user"),
            "parts": [{"type": "text", "content": text} for text in content_texts(field(message, "content"))],
        }
        for message in messages
    ]


def output_message(text: str, finish_reason: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message

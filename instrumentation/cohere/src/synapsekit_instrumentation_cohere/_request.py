"""What a cohere v2 request says about the call: model, output cap, prompt text, where it goes.

Messages and embed inputs arrive as the caller wrote them: plain dicts or the SDK's pydantic models; a
parameter left out is the SDK's ``OMIT`` sentinel (``...``), which is no number and no text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

PROVIDER = "cohere"


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a dict, ``obj.name`` for an SDK model; None when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def count(value: Any) -> int | None:
    """A token count: Cohere's models type them as floats (``billed_units.input_tokens: float``)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    return None


def str_value(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _items(value: Any) -> Iterable[Any]:
    """``value``'s items when it is a list-like of them, else none."""
    return value if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping)) else ()


def content_texts(content: Any) -> Iterator[str]:
    """The text of a message's ``content``: a string, or its text parts (and a tool result's documents)."""
    if isinstance(content, str):
        yield content
    else:
        for part in _items(content):
            text = field(part, "text")
            if isinstance(text, str):
                yield text


def messages_text(messages: Any) -> str:
    """All the text of the request's messages (and an assistant turn's tool plan), for a reservation."""
    texts: list[str] = []
    for message in _items(messages):
        texts.extend(content_texts(field(message, "content")))
        tool_plan = field(message, "tool_plan")
        if isinstance(tool_plan, str):
            texts.append(tool_plan)
    return "\n".join(texts)


def embed_text(kwargs: Mapping[str, Any]) -> str:
    """The text of an embed request: its ``texts``, or the text parts of its ``inputs``."""
    texts = [text for text in _items(kwargs.get("texts")) if isinstance(text, str)]
    if texts:
        return "\n".join(texts)
    return "\n".join(
        text for item in _items(kwargs.get("inputs")) for text in content_texts(field(item, "content"))
    )


def server_of(raw_client: Any) -> tuple[str | None, int | None]:
    url = raw_client._client_wrapper.get_base_url()
    parts = urlsplit(url if isinstance(url, str) else "")
    if not parts.hostname:
        return None, None
    return parts.hostname, parts.port or (80 if parts.scheme == "http" else 443)


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat messages in the GenAI conventions' structure, for opted-in content capture (text parts only)."""
    return [
        {
            "role": str(field(message, "role") or "user"),
            "parts": [{"type": "text", "content": text} for text in content_texts(field(message, "content"))],
        }
        for message in _items(messages)
    ]


def output_message(text: str, finish_reason: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message

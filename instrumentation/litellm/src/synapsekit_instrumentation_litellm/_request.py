"""What a litellm request asks for, read from the caller's arguments before anything is sent.

litellm takes the OpenAI chat format for every provider, so one reader serves them all: the prompt text
(for a budget's reservation, built only if a budget asks) and the output cap. The cap is ``max_tokens`` or
``max_completion_tokens`` -- litellm maps either to each provider's own parameter (Anthropic ``max_tokens``,
Gemini ``maxOutputTokens``, Ollama ``num_predict``...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def bound_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The call's arguments by name: litellm's public functions take their first ones positionally too."""
    if not args:
        return dict(kwargs)
    merged = dict(zip(names, args, strict=False))
    merged.update(kwargs)
    return merged


def max_output_tokens(kwargs: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = kwargs.get(name)
        if type(value) is int:
            return value
    return None


def chat_prompt(kwargs: Mapping[str, Any]) -> Callable[[], str]:
    messages = kwargs.get("messages")
    return lambda: messages_text(messages)


def _message_texts(message: Any) -> list[str]:
    content = message.get("content") if isinstance(message, Mapping) else getattr(message, "content", None)
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if isinstance(content, Sequence):
        for part in content:
            text = part.get("text") if isinstance(part, Mapping) else None
            if isinstance(text, str):
                texts.append(text)
    return texts


def _messages(messages: Any) -> Sequence[Any]:
    return messages if isinstance(messages, Sequence) and not isinstance(messages, str) else ()


def messages_text(messages: Any) -> str:
    """The text of OpenAI-format chat messages: string contents and every part with a string ``text``."""
    return "\n".join(text for message in _messages(messages) for text in _message_texts(message))


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """The GenAI conventions' ``gen_ai.input.messages``: role and text parts of each message."""
    structured: list[dict[str, Any]] = []
    for message in _messages(messages):
        role = message.get("role") if isinstance(message, Mapping) else getattr(message, "role", None)
        parts = [{"type": "text", "content": text} for text in _message_texts(message)]
        structured.append({"role": role if isinstance(role, str) else "user", "parts": parts})
    return structured


def embedding_prompt(kwargs: Mapping[str, Any]) -> Callable[[], str]:
    items = kwargs.get("input")
    return lambda: embedding_text(items)


def embedding_text(items: Any) -> str:
    if isinstance(items, str):
        return items
    if isinstance(items, Sequence):
        return "\n".join(item for item in items if isinstance(item, str))
    return ""

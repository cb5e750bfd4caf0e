"""Prompt and completion content in the GenAI conventions' message structure (opted-in capture only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._request import option, texts

# Gemini calls the answering side "model"; the conventions call it "assistant".
_ROLES = {"model": "assistant"}


def _message(role: str, pieces: Iterable[str]) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text} for text in pieces]}


def _is_content(item: Any) -> bool:
    """A ``Content`` (or its dict form): a turn with a role; strings and parts are pieces of a user turn."""
    return option(item, "role") is not None or (
        option(item, "parts") is not None and option(item, "text") is None
    )


def input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``system_instruction`` and ``contents`` as messages; loose strings and parts form user turns."""
    messages: list[dict[str, Any]] = []
    system = option(kwargs.get("config"), "system_instruction")
    if system is not None:
        messages.append(_message("system", texts(system)))
    contents = kwargs.get("contents")
    items = contents if isinstance(contents, (list, tuple)) else [contents]
    loose: list[str] = []
    for item in items:
        if _is_content(item):
            if loose:
                messages.append(_message("user", loose))
                loose = []
            role = option(item, "role")
            role = role if isinstance(role, str) else "user"
            messages.append(_message(_ROLES.get(role, role), texts(option(item, "parts"))))
        else:
            loose.extend(texts(item))
    if loose:
        messages.append(_message("user", loose))
    return messages


def output_messages(text: str, finish_reasons: tuple[str, ...]) -> list[dict[str, Any]]:
    message = _message("assistant", [text])
    if finish_reasons:
        message["finish_reason"] = finish_reasons[0]
    return [message]

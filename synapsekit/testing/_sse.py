"""What an endpoint hands back to the HTTP layer: a JSON body or a list of server-sent events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frame:
    """One server-sent event; ``is_content`` marks the text deltas that ``x-test-drop-after`` counts."""

    data: bytes
    is_content: bool = False


@dataclass(frozen=True)
class JSONReply:
    body: dict[str, Any]


@dataclass(frozen=True)
class StreamReply:
    frames: list[Frame]


Reply = JSONReply | StreamReply


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def data_frame(payload: Any, *, is_content: bool = False) -> Frame:
    """An OpenAI chat-style event: a ``data:`` line only."""
    return Frame(f"data: {dumps(payload)}\n\n".encode(), is_content)


def named_frame(event: str, payload: Any, *, is_content: bool = False) -> Frame:
    """A typed event (Responses API, Anthropic): ``event:`` and ``data:`` lines."""
    return Frame(f"event: {event}\ndata: {dumps(payload)}\n\n".encode(), is_content)


DONE_FRAME = Frame(b"data: [DONE]\n\n")

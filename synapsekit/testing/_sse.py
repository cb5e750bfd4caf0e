"""What an endpoint hands back to the HTTP layer: a JSON body or a list of stream frames."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


@dataclass(frozen=True)
class Frame:
    """One stream event, already encoded; ``is_content`` marks the text deltas ``x-test-drop-after`` counts."""

    data: bytes
    is_content: bool = False


@dataclass(frozen=True)
class JSONReply:
    body: dict[str, Any]
    # Provider-specific response headers (Bedrock reports token counts in headers, for example).
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamReply:
    frames: list[Frame]
    # Server-sent events unless told otherwise: Ollama streams NDJSON, Bedrock the AWS event-stream.
    content_type: str = SSE_CONTENT_TYPE
    headers: Mapping[str, str] = field(default_factory=dict)


Reply = JSONReply | StreamReply


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def data_frame(payload: Any, *, is_content: bool = False) -> Frame:
    """An OpenAI chat-style event: a ``data:`` line only."""
    return Frame(f"data: {dumps(payload)}\n\n".encode(), is_content)


def named_frame(event: str, payload: Any, *, is_content: bool = False) -> Frame:
    """A typed event (Responses API, Anthropic): ``event:`` and ``data:`` lines."""
    return Frame(f"event: {event}\ndata: {dumps(payload)}\n\n".encode(), is_content)


def ndjson_frame(payload: Any, *, is_content: bool = False) -> Frame:
    """One line of newline-delimited JSON (Ollama's streams)."""
    return Frame(f"{dumps(payload)}\n".encode(), is_content)


DONE_FRAME = Frame(b"data: [DONE]\n\n")

"""Cohere v2 (``cohere.ClientV2``): ``POST /v2/chat`` (JSON or typed SSE events) and ``POST /v2/embed``.

Cohere reports two counts: ``usage.billed_units`` (what is charged) and ``usage.tokens`` (what the model
read and wrote, including its prompt template). Here the billed units are the usual counts and the tokens
add :data:`TEMPLATE_INPUT_TOKENS` and :data:`TEMPLATE_OUTPUT_TOKENS`, so an instrumentation that counts the
wrong one is caught.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from ._openai_embeddings import embedding_vector, requested_dimensions
from ._plan import (
    InvalidRequest,
    RequestContext,
    UsagePlan,
    content_texts,
    count_words,
    messages_texts,
    output_cap,
    request_model,
)
from ._sse import JSONReply, Reply, StreamReply, named_frame
from ._text import plain_reply

TEMPLATE_INPUT_TOKENS = 64
"""Prompt-template tokens Cohere's ``usage.tokens.input_tokens`` counts and does not bill."""
TEMPLATE_OUTPUT_TOKENS = 1
"""The end-of-turn token ``usage.tokens.output_tokens`` counts and does not bill."""


def chat(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidRequest("invalid request: messages must not be empty", param="messages")
    plan = ctx.plan(
        model=model,
        counted_input_tokens=count_words(messages_texts(body["messages"])),
        cap=output_cap(body, ("max_tokens",)),
    )
    completion = plain_reply(plan.output_tokens)
    finish_reason = "MAX_TOKENS" if plan.capped else "COMPLETE"
    chat_id = _uuid(ctx)
    if body.get("stream") is not True:
        return JSONReply(
            {
                "id": chat_id,
                "message": {"role": "assistant", "content": [{"type": "text", "text": completion.text}]},
                "finish_reason": finish_reason,
                "usage": _usage(plan),
            }
        )
    start_message = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    frames = [
        named_frame(
            "message-start", {"id": chat_id, "type": "message-start", "delta": {"message": start_message}}
        ),
        named_frame(
            "content-start",
            {
                "type": "content-start",
                "index": 0,
                "delta": {"message": {"content": {"type": "text", "text": ""}}},
            },
        ),
    ]
    frames.extend(
        named_frame(
            "content-delta",
            {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}},
            is_content=True,
        )
        for piece in completion.pieces
    )
    frames.append(named_frame("content-end", {"type": "content-end", "index": 0}))
    frames.append(
        named_frame(
            "message-end",
            {"type": "message-end", "delta": {"finish_reason": finish_reason, "usage": _usage(plan)}},
        )
    )
    return StreamReply(frames)


def _usage(plan: UsagePlan) -> dict[str, Any]:
    return {
        "billed_units": {"input_tokens": plan.input_tokens, "output_tokens": plan.output_tokens},
        "tokens": {
            "input_tokens": plan.input_tokens + TEMPLATE_INPUT_TOKENS,
            "output_tokens": plan.output_tokens + TEMPLATE_OUTPUT_TOKENS,
        },
        "cached_tokens": plan.cached_tokens,
    }


def _uuid(ctx: RequestContext) -> str:
    """Cohere's ids are UUIDs; this one is derived from the request's sequence number."""
    digits = ctx.object_id("").rjust(32, "0")
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


# -- embed -----------------------------------------------------------------------------------------------

_EMBEDDING_TYPES = ("float", "int8", "uint8", "base64")


def embed(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    texts = _embed_texts(body)
    types = body.get("embedding_types", ["float"])
    if not isinstance(types, list) or not types or any(kind not in _EMBEDDING_TYPES for kind in types):
        raise InvalidRequest(
            f"invalid request: embedding_types must be a non-empty list of {', '.join(_EMBEDDING_TYPES)}",
            param="embedding_types",
        )
    dimensions = requested_dimensions(body, "output_dimension")
    plan = ctx.plan(model=model, counted_input_tokens=count_words(texts), cap=None)
    vectors = [embedding_vector(text, dimensions) for text in texts]
    return JSONReply(
        {
            "id": _uuid(ctx),
            "embeddings": {kind: [_encode(vector, kind) for vector in vectors] for kind in types},
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": plan.input_tokens}},
            "response_type": "embeddings_by_type",
        }
    )


def _embed_texts(body: dict[str, Any]) -> list[str]:
    """``texts``, or the text parts of ``inputs`` (each input's parts joined into one text)."""
    texts = body.get("texts")
    if isinstance(texts, list) and texts and all(isinstance(text, str) for text in texts):
        return list(texts)
    inputs = body.get("inputs")
    if isinstance(inputs, list) and inputs and all(isinstance(item, dict) for item in inputs):
        return [" ".join(content_texts(item.get("content"))) for item in inputs]
    raise InvalidRequest("invalid request: one of texts or inputs must be a non-empty list", param="texts")


def _encode(vector: list[float], kind: str) -> list[float] | list[int] | str:
    if kind == "float":
        return vector
    if kind == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    # The int8 and uint8 quantisations scale the unit vector's components (within [-1, 1]) to the byte range.
    signed = [max(-128, min(127, round(value * 127))) for value in vector]
    return signed if kind == "int8" else [value + 128 for value in signed]

"""Mistral (``mistralai``) under ``/mistral/v1``: chat completions and embeddings in Mistral's dialect.

Mistral's chat format is OpenAI's with two differences that matter for accounting: a stream always ends
with a chunk carrying ``usage`` (no ``stream_options`` needed, and no separate usage-only chunk), and the
usage reports cache hits as ``prompt_tokens_details.cached_tokens``.
"""

from __future__ import annotations

from typing import Any

from ._openai_chat import response_format_completion
from ._openai_embeddings import embedding_vector, requested_dimensions
from ._plan import (
    InvalidRequest,
    RequestContext,
    UsagePlan,
    count_words,
    messages_texts,
    output_cap,
    request_model,
)
from ._sse import DONE_FRAME, JSONReply, Reply, StreamReply, data_frame


def chat_completions(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    plan = ctx.plan(
        model=model,
        counted_input_tokens=count_words(messages_texts(body["messages"])),
        cap=output_cap(body, ("max_tokens",)),
    )
    completion = response_format_completion(body.get("response_format"), plan.output_tokens)
    finish_reason = "length" if plan.capped else "stop"
    completion_id = ctx.object_id("")
    if body.get("stream") is not True:
        return JSONReply(
            {
                "id": completion_id,
                "object": "chat.completion",
                "model": plan.model,
                "usage": _usage(plan),
                "created": ctx.created,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": completion.text,
                            "tool_calls": None,
                            "prefix": False,
                        },
                        "finish_reason": finish_reason,
                    }
                ],
            }
        )

    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": plan.model,
            "choices": [choice],
            **extra,
        }

    frames = [data_frame(chunk({"role": "assistant", "content": ""}, None))]
    frames.extend(data_frame(chunk({"content": piece}, None), is_content=True) for piece in completion.pieces)
    frames.append(data_frame(chunk({"content": ""}, finish_reason, usage=_usage(plan))))
    frames.append(DONE_FRAME)
    return StreamReply(frames)


def _usage(plan: UsagePlan) -> dict[str, Any]:
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens},
    }


def embeddings(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(item, str) for item in inputs):
        raise InvalidRequest("'input' must be a string or a non-empty array of strings.", param="input")
    dimensions = requested_dimensions(body, "output_dimension")
    plan = ctx.plan(model=model, counted_input_tokens=count_words(inputs), cap=None)
    return JSONReply(
        {
            "id": ctx.object_id(""),
            "object": "list",
            "data": [
                {"object": "embedding", "embedding": embedding_vector(item, dimensions), "index": index}
                for index, item in enumerate(inputs)
            ],
            "model": plan.model,
            "usage": {
                "prompt_tokens": plan.input_tokens,
                "completion_tokens": 0,
                "total_tokens": plan.input_tokens,
            },
        }
    )

"""``POST /v1/chat/completions``: OpenAI Chat Completions, plain and streamed.

The same endpoint answers in the dialect of the OpenAI-compatible providers whose streams end with ``usage`` on
the finish chunk without being asked (Cerebras, Together AI, Fireworks AI): :func:`chat_completions_usage_on_last_chunk`.
"""

from __future__ import annotations

from typing import Any

from ._plan import (
    InvalidRequest,
    RequestContext,
    UsagePlan,
    count_words,
    messages_texts,
    output_cap,
    request_model,
)
from ._sse import DONE_FRAME, Frame, JSONReply, Reply, StreamReply, data_frame
from ._text import Completion, SchemaFiller, json_object_document, plain_reply, structured_reply

_FINGERPRINT = "fp_synapsekit_test"


def chat_completions(body: dict[str, Any], ctx: RequestContext) -> Reply:
    return _chat_completions(body, ctx, usage_on_last_chunk=False)


def chat_completions_usage_on_last_chunk(body: dict[str, Any], ctx: RequestContext) -> Reply:
    """OpenAI's chat completions, except that a stream's finish chunk carries ``usage`` whatever was asked."""
    return _chat_completions(body, ctx, usage_on_last_chunk=True)


def _chat_completions(body: dict[str, Any], ctx: RequestContext, *, usage_on_last_chunk: bool) -> Reply:
    model = request_model(body)
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    plan = ctx.plan(
        model=model,
        counted_input_tokens=count_words(messages_texts(body["messages"])),
        cap=output_cap(body, ("max_tokens", "max_completion_tokens")),
    )
    completion = response_format_completion(body.get("response_format"), plan.output_tokens)
    if body.get("stream") is True:
        return StreamReply(_stream_frames(body, ctx, plan, completion, usage_on_last_chunk))
    return JSONReply(
        {
            "id": ctx.object_id("chatcmpl-"),
            "object": "chat.completion",
            "created": ctx.created,
            "model": plan.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": completion.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": _finish_reason(plan),
                }
            ],
            "usage": _usage(plan),
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
        }
    )


def response_format_completion(response_format: Any, output_tokens: int) -> Completion:
    """Plain text, or JSON for a ``json_schema`` / ``json_object`` response format (Mistral shares it)."""
    if not isinstance(response_format, dict):
        return plain_reply(output_tokens)
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequest(
                "'response_format.json_schema.schema' must be an object.", param="response_format"
            )
        return structured_reply(SchemaFiller(schema).fill(), output_tokens)
    if kind == "json_object":
        return structured_reply(json_object_document(output_tokens), output_tokens)
    return plain_reply(output_tokens)


def _finish_reason(plan: UsagePlan) -> str:
    return "length" if plan.capped else "stop"


def _usage(plan: UsagePlan) -> dict[str, Any]:
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": plan.cached_tokens,
            "cache_write_tokens": plan.cache_creation_tokens,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _stream_frames(
    body: dict[str, Any],
    ctx: RequestContext,
    plan: UsagePlan,
    completion: Completion,
    usage_on_last_chunk: bool,
) -> list[Frame]:
    stream_options = body.get("stream_options")
    include_usage = (
        not usage_on_last_chunk
        and isinstance(stream_options, dict)
        and stream_options.get("include_usage") is True
    )
    chunk_id = ctx.object_id("chatcmpl-")

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": plan.model,
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
            "choices": choices,
        }
        # Like OpenAI: the usage key appears (as null) on every chunk only when usage was asked for.
        if include_usage:
            payload["usage"] = None
        payload.update(extra)
        return payload

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    frames = [data_frame(chunk(choice({"role": "assistant", "content": "", "refusal": None})))]
    frames.extend(
        data_frame(chunk(choice({"content": piece})), is_content=True) for piece in completion.pieces
    )
    if usage_on_last_chunk:
        frames.append(data_frame(chunk(choice({}, _finish_reason(plan)), usage=_usage(plan))))
    else:
        frames.append(data_frame(chunk(choice({}, _finish_reason(plan)))))
    if include_usage:
        frames.append(data_frame(chunk([], usage=_usage(plan))))
    frames.append(DONE_FRAME)
    return frames

"""Bedrock ``POST /model/{modelId}/converse`` and ``/converse-stream`` (boto3 ``converse*``)."""

from __future__ import annotations

from typing import Any

from ._bedrock_usage import converse_usage, latency_ms
from ._eventstream import CONTENT_TYPE, event_frame
from ._plan import (
    InvalidRequest,
    RequestContext,
    UsagePlan,
    content_texts,
    count_words,
    messages_texts,
    output_cap,
)
from ._sse import JSONReply, Reply, StreamReply
from ._text import plain_reply


def converse(body: dict[str, Any], ctx: RequestContext, *, model: str, stream: bool) -> Reply:
    plan = plan_converse(body, ctx, model)
    completion = plain_reply(plan.output_tokens)
    if not stream:
        return JSONReply(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": completion.text}]}},
                "stopReason": stop_reason(plan),
                "usage": converse_usage(plan),
                "metrics": {"latencyMs": latency_ms(ctx)},
            }
        )
    frames = [event_frame("messageStart", {"role": "assistant"})]
    frames.extend(
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}, is_content=True)
        for piece in completion.pieces
    )
    frames.append(event_frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(event_frame("messageStop", {"stopReason": stop_reason(plan)}))
    frames.append(
        event_frame("metadata", {"usage": converse_usage(plan), "metrics": {"latencyMs": latency_ms(ctx)}})
    )
    return StreamReply(frames, content_type=CONTENT_TYPE)


def plan_converse(body: dict[str, Any], ctx: RequestContext, model: str) -> UsagePlan:
    """Count ``system`` and ``messages`` text blocks; ``inferenceConfig.maxTokens`` caps the output."""
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidRequest("Value at 'messages' failed to satisfy constraint: must not be empty.")
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise InvalidRequest("Value at 'inferenceConfig' must be an object.")
    texts = content_texts(body.get("system")) + messages_texts(body["messages"])
    return ctx.plan(
        model=model, counted_input_tokens=count_words(texts), cap=output_cap(config, ("maxTokens",))
    )


def stop_reason(plan: UsagePlan) -> str:
    return "max_tokens" if plan.capped else "end_turn"

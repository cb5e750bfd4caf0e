"""``POST /v1/messages``: the Anthropic Messages API, plain and streamed."""

from __future__ import annotations

from typing import Any

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
from ._text import Completion, plain_reply


def messages(body: dict[str, Any], ctx: RequestContext) -> Reply:
    plan = plan_messages(body, ctx, request_model(body))
    completion = plain_reply(plan.output_tokens)
    message_id = ctx.object_id("msg_")
    if body.get("stream") is True:
        return StreamReply(
            [
                named_frame(event, payload, is_content=is_content)
                for event, payload, is_content in stream_events(message_id, plan, completion)
            ]
        )
    return JSONReply(message_body(message_id, plan, completion))


def plan_messages(body: dict[str, Any], ctx: RequestContext, model: str) -> UsagePlan:
    """Count a Messages request (also Bedrock's Anthropic bodies, whose model is in the URL)."""
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidRequest("messages: must be a non-empty list", param="messages")
    texts = content_texts(body.get("system")) + messages_texts(body["messages"])
    return ctx.plan(
        model=model, counted_input_tokens=count_words(texts), cap=output_cap(body, ("max_tokens",))
    )


def message_body(message_id: str, plan: UsagePlan, completion: Completion) -> dict[str, Any]:
    return _message(message_id, plan, [_text_block(completion.text)], _stop_reason(plan), _usage(plan, None))


def _stop_reason(plan: UsagePlan) -> str:
    return "max_tokens" if plan.capped else "end_turn"


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "citations": None}


def _usage(plan: UsagePlan, output_tokens: int | None) -> dict[str, Any]:
    """Anthropic's ``input_tokens`` excludes cache reads and writes, which are reported beside it."""
    usage: dict[str, Any] = {
        "input_tokens": max(plan.input_tokens - plan.cached_tokens - plan.cache_creation_tokens, 0),
        "cache_creation_input_tokens": plan.cache_creation_tokens,
        "cache_read_input_tokens": plan.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": plan.cache_creation_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": plan.output_tokens if output_tokens is None else output_tokens,
        "service_tier": "standard",
    }
    if plan.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": plan.reasoning_tokens}
    return usage


def _message(
    message_id: str,
    plan: UsagePlan,
    content: list[dict[str, Any]],
    stop_reason: str | None,
    usage: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


StreamEvent = tuple[str, dict[str, Any], bool]
"""An event name, its payload, and whether it carries text (what ``x-test-drop-after`` counts)."""


def stream_events(message_id: str, plan: UsagePlan, completion: Completion) -> list[StreamEvent]:
    # The real API reports a placeholder output count of 1 at the start and the cumulative total at the end.
    start_usage = _usage(plan, 1)
    start_usage.pop("output_tokens_details", None)
    final_usage = _usage(plan, None)
    final_usage.pop("cache_creation", None)
    final_usage.pop("service_tier", None)
    events: list[StreamEvent] = [
        (
            "message_start",
            {"type": "message_start", "message": _message(message_id, plan, [], None, start_usage)},
            False,
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            False,
        ),
        ("ping", {"type": "ping"}, False),
    ]
    events.extend(
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            True,
        )
        for piece in completion.pieces
    )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}, False))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(plan), "stop_sequence": None},
                "usage": final_usage,
            },
            False,
        )
    )
    events.append(("message_stop", {"type": "message_stop"}, False))
    return events

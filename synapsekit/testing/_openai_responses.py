"""``POST /v1/responses``: the OpenAI Responses API, plain and streamed with the real event sequence."""

from __future__ import annotations

import copy
from typing import Any

from ._plan import (
    InvalidRequest,
    RequestContext,
    UsagePlan,
    content_texts,
    count_words,
    output_cap,
    request_model,
)
from ._sse import Frame, JSONReply, Reply, StreamReply, named_frame
from ._text import Completion, SchemaFiller, json_object_document, plain_reply, structured_reply


def responses(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    if "input" not in body:
        raise InvalidRequest("'input' is required.", param="input")
    plan = ctx.plan(
        model=model,
        counted_input_tokens=count_words(_input_texts(body)),
        cap=output_cap(body, ("max_output_tokens",)),
    )
    completion = _completion(body.get("text"), plan.output_tokens)
    builder = _ResponseBuilder(body, ctx, plan, completion)
    if body.get("stream") is True:
        return StreamReply(builder.stream_frames())
    return JSONReply(builder.response(completed=True))


def _input_texts(body: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        texts.append(instructions)
    items = body.get("input")
    if isinstance(items, str):
        texts.append(items)
    elif isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                texts.extend(content_texts(item.get("content")))
    return texts


def _completion(text_config: Any, output_tokens: int) -> Completion:
    text_format = text_config.get("format") if isinstance(text_config, dict) else None
    if not isinstance(text_format, dict):
        return plain_reply(output_tokens)
    kind = text_format.get("type")
    if kind == "json_schema":
        schema = text_format.get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequest("'text.format.schema' must be an object.", param="text")
        return structured_reply(SchemaFiller(schema).fill(), output_tokens)
    if kind == "json_object":
        return structured_reply(json_object_document(output_tokens), output_tokens)
    return plain_reply(output_tokens)


class _ResponseBuilder:
    def __init__(
        self, body: dict[str, Any], ctx: RequestContext, plan: UsagePlan, completion: Completion
    ) -> None:
        self._body = body
        self._ctx = ctx
        self._plan = plan
        self._completion = completion
        self._response_id = ctx.object_id("resp_")
        self._message_id = ctx.object_id("msg_")

    def response(self, *, completed: bool) -> dict[str, Any]:
        body = self._body
        text_config = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}
        return {
            "id": self._response_id,
            "object": "response",
            "created_at": self._ctx.created,
            "status": "completed" if completed else "in_progress",
            "background": False,
            "completed_at": self._ctx.created if completed else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions") if isinstance(body.get("instructions"), str) else None,
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
            "model": self._plan.model,
            "output": [self._message(completed=True)] if completed else [],
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": True,
            "temperature": 1.0,
            "text": text_config,
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": self._usage() if completed else None,
            "user": None,
        }

    def _usage(self) -> dict[str, Any]:
        plan = self._plan
        return {
            "input_tokens": plan.input_tokens,
            "input_tokens_details": {
                "cached_tokens": plan.cached_tokens,
                "cache_write_tokens": plan.cache_creation_tokens,
            },
            "output_tokens": plan.output_tokens,
            "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
            "total_tokens": plan.input_tokens + plan.output_tokens,
        }

    def _text_part(self, text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _message(self, *, completed: bool) -> dict[str, Any]:
        return {
            "id": self._message_id,
            "type": "message",
            "status": "completed" if completed else "in_progress",
            "role": "assistant",
            "content": [self._text_part(self._completion.text)] if completed else [],
        }

    def stream_frames(self) -> list[Frame]:
        frames: list[Frame] = []

        def emit(event_type: str, is_content: bool = False, **fields: Any) -> None:
            payload = {"type": event_type, "sequence_number": len(frames), **fields}
            frames.append(named_frame(event_type, payload, is_content=is_content))

        in_progress = self.response(completed=False)
        emit("response.created", response=in_progress)
        emit("response.in_progress", response=copy.deepcopy(in_progress))
        location: dict[str, Any] = {"item_id": self._message_id, "output_index": 0}
        emit("response.output_item.added", output_index=0, item=self._message(completed=False))
        emit("response.content_part.added", **location, content_index=0, part=self._text_part(""))
        for piece in self._completion.pieces:
            emit("response.output_text.delta", True, **location, content_index=0, delta=piece, logprobs=[])
        text = self._completion.text
        emit("response.output_text.done", **location, content_index=0, text=text, logprobs=[])
        emit("response.content_part.done", **location, content_index=0, part=self._text_part(text))
        emit("response.output_item.done", output_index=0, item=self._message(completed=True))
        emit("response.completed", response=self.response(completed=True))
        return frames

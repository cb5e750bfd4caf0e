"""Ollama (``ollama``): ``POST /api/chat``, ``/api/generate`` (NDJSON streams by default) and ``/api/embed``.

Ollama reports ``prompt_eval_count`` (input) and ``eval_count`` (output) on its final ``done`` message, and
durations in nanoseconds: here exactly 1 ms per counted token (``load_duration`` 0), so they are exact too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from ._openai_embeddings import embedding_vector, requested_dimensions
from ._plan import InvalidRequest, RequestContext, UsagePlan, count_words, messages_texts, request_model
from ._sse import JSONReply, Reply, StreamReply, ndjson_frame
from ._text import plain_reply

NDJSON_CONTENT_TYPE = "application/x-ndjson"
_NS_PER_TOKEN = 1_000_000


def chat(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    if not isinstance(body.get("messages"), list):
        raise InvalidRequest("messages must be an array", param="messages")
    texts = messages_texts(body["messages"])
    return _answer(body, ctx, model, texts, lambda text: {"message": {"role": "assistant", "content": text}})


def generate(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    texts = [value for key in ("system", "prompt") if isinstance(value := body.get(key), str)]
    return _answer(body, ctx, model, texts, lambda text: {"response": text})


def _answer(
    body: dict[str, Any],
    ctx: RequestContext,
    model: str,
    texts: list[str],
    text_fields: Callable[[str], dict[str, Any]],
) -> Reply:
    plan = ctx.plan(model=model, counted_input_tokens=count_words(texts), cap=_num_predict(body))
    completion = plain_reply(plan.output_tokens)
    created_at = _timestamp(ctx)

    def message(text: str, **extra: Any) -> dict[str, Any]:
        return {"model": plan.model, "created_at": created_at, **text_fields(text), **extra}

    final = message("", **_final_fields(plan))
    # Ollama streams unless the request says "stream": false.
    if body.get("stream") is False:
        return JSONReply({**final, **text_fields(completion.text)})
    frames = [ndjson_frame(message(piece, done=False), is_content=True) for piece in completion.pieces]
    frames.append(ndjson_frame(final))
    return StreamReply(frames, content_type=NDJSON_CONTENT_TYPE)


def _num_predict(body: dict[str, Any]) -> int | None:
    """``options.num_predict`` caps the output; a negative value (-1 endless, -2 fill context) does not."""
    options = body.get("options")
    if options is None:
        return None
    if not isinstance(options, dict):
        raise InvalidRequest("options must be an object", param="options")
    value = options.get("num_predict")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("options.num_predict must be an integer", param="num_predict")
    return value if value >= 0 else None


def _final_fields(plan: UsagePlan) -> dict[str, Any]:
    prompt_ns = plan.input_tokens * _NS_PER_TOKEN
    eval_ns = plan.output_tokens * _NS_PER_TOKEN
    return {
        "done": True,
        "done_reason": "length" if plan.capped else "stop",
        "total_duration": prompt_ns + eval_ns,
        "load_duration": 0,
        "prompt_eval_count": plan.input_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": plan.output_tokens,
        "eval_duration": eval_ns,
    }


def _timestamp(ctx: RequestContext) -> str:
    created = datetime.datetime.fromtimestamp(ctx.created, datetime.timezone.utc)
    return created.isoformat().replace("+00:00", "Z")


def embed(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(item, str) for item in inputs):
        raise InvalidRequest("input must be a string or a non-empty array of strings", param="input")
    dimensions = requested_dimensions(body, "dimensions")
    plan = ctx.plan(model=model, counted_input_tokens=count_words(inputs), cap=None)
    prompt_ns = plan.input_tokens * _NS_PER_TOKEN
    return JSONReply(
        {
            "model": plan.model,
            "embeddings": [embedding_vector(item, dimensions) for item in inputs],
            "total_duration": prompt_ns,
            "load_duration": 0,
            "prompt_eval_count": plan.input_tokens,
        }
    )

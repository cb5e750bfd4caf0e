"""InvokeModel request and response bodies of the model families the test server knows on Bedrock.

Each family answers a request with its own JSON body, the JSON chunks its stream sends, and the input
count Bedrock bills (which is what the token-count headers and invocation metrics report).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._anthropic_messages import message_body, plan_messages, stream_events
from ._bedrock_converse import stop_reason
from ._bedrock_usage import uncached_input
from ._plan import (
    InvalidRequest,
    RequestContext,
    UsagePlan,
    content_texts,
    count_words,
    messages_texts,
    output_cap,
)
from ._text import plain_reply

Chunk = tuple[dict[str, Any], bool]
"""A streamed JSON chunk and whether it carries text (what ``x-test-drop-after`` counts)."""


@dataclass(frozen=True)
class InvokeAnswer:
    plan: UsagePlan
    body: dict[str, Any]
    chunks: list[Chunk]
    input_tokens: int
    # Llama has no prompt cache, so its metrics and headers never carry cache counts.
    reports_cache: bool


Family = Callable[[dict[str, Any], RequestContext, str], InvokeAnswer]


def anthropic(body: dict[str, Any], ctx: RequestContext, model: str) -> InvokeAnswer:
    """The Messages API body, Bedrock flavour: the model is in the URL and ``anthropic_version`` is required."""
    if not isinstance(body.get("anthropic_version"), str):
        raise InvalidRequest("Malformed input request: required key [anthropic_version] not found")
    plan = plan_messages(body, ctx, model)
    completion = plain_reply(plan.output_tokens)
    message_id = ctx.object_id("msg_bdrk_")
    # Bedrock relays Anthropic's events as chunks, without the keep-alive pings.
    chunks = [
        (payload, is_content)
        for event, payload, is_content in stream_events(message_id, plan, completion)
        if event != "ping"
    ]
    return InvokeAnswer(
        plan, message_body(message_id, plan, completion), chunks, uncached_input(plan), reports_cache=True
    )


def nova(body: dict[str, Any], ctx: RequestContext, model: str) -> InvokeAnswer:
    """Amazon Nova's ``messages-v1`` schema: Converse-like blocks, ``inferenceConfig.maxTokens``."""
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidRequest("Malformed input request: #/messages: expected minimum item count: 1")
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise InvalidRequest("Malformed input request: #/inferenceConfig: expected type: JSONObject")
    texts = content_texts(body.get("system")) + messages_texts(body["messages"])
    plan = ctx.plan(
        model=model,
        counted_input_tokens=count_words(texts),
        cap=output_cap(config, ("maxTokens", "max_new_tokens")),
    )
    completion = plain_reply(plan.output_tokens)
    input_tokens = uncached_input(plan)
    usage = {
        "inputTokens": input_tokens,
        "outputTokens": plan.output_tokens,
        "totalTokens": input_tokens + plan.output_tokens + plan.cached_tokens + plan.cache_creation_tokens,
        "cacheReadInputTokenCount": plan.cached_tokens,
        "cacheWriteInputTokenCount": plan.cache_creation_tokens,
    }
    response = {
        "output": {"message": {"content": [{"text": completion.text}], "role": "assistant"}},
        "stopReason": stop_reason(plan),
        "usage": usage,
    }
    chunks: list[Chunk] = [({"messageStart": {"role": "assistant"}}, False)]
    chunks.extend(
        ({"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}, True)
        for piece in completion.pieces
    )
    chunks.append(({"contentBlockStop": {"contentBlockIndex": 0}}, False))
    chunks.append(({"messageStop": {"stopReason": stop_reason(plan)}}, False))
    chunks.append(({"metadata": {"usage": usage, "metrics": {}, "trace": {}}}, False))
    return InvokeAnswer(plan, response, chunks, input_tokens, reports_cache=True)


def llama(body: dict[str, Any], ctx: RequestContext, model: str) -> InvokeAnswer:
    """Meta Llama: a raw ``prompt`` and ``max_gen_len``; counts travel in every chunk."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest("Malformed input request: required key [prompt] not found")
    plan = ctx.plan(
        model=model, counted_input_tokens=count_words([prompt]), cap=output_cap(body, ("max_gen_len",))
    )
    completion = plain_reply(plan.output_tokens)
    finish = "length" if plan.capped else "stop"
    response = {
        "generation": completion.text,
        "prompt_token_count": plan.input_tokens,
        "generation_token_count": plan.output_tokens,
        "stop_reason": finish,
    }
    # The prompt count comes once, on the first chunk; the generation count is cumulative.
    chunks: list[Chunk] = [
        (
            {
                "generation": piece,
                "prompt_token_count": plan.input_tokens if index == 0 else None,
                "generation_token_count": index + 1,
                "stop_reason": None,
            },
            True,
        )
        for index, piece in enumerate(completion.pieces)
    ]
    chunks.append(
        (
            {
                "generation": "",
                "prompt_token_count": None if completion.pieces else plan.input_tokens,
                "generation_token_count": plan.output_tokens,
                "stop_reason": finish,
            },
            False,
        )
    )
    return InvokeAnswer(plan, response, chunks, plan.input_tokens, reports_cache=False)


def family_for(model: str, body: dict[str, Any]) -> Family:
    """By model id (base ids, cross-region ``us.``/``eu.`` profiles, ARNs), else by the body's shape."""
    lowered = model.lower()
    if "anthropic." in lowered:
        return anthropic
    if "amazon.nova" in lowered:
        return nova
    if "meta.llama" in lowered:
        return llama
    # A provisioned-throughput or custom-model ARN names no family: recognise the body instead.
    if "anthropic_version" in body:
        return anthropic
    if "schemaVersion" in body or "inferenceConfig" in body:
        return nova
    if "prompt" in body:
        return llama
    raise InvalidRequest(
        f"The LLM test server does not know the InvokeModel body of model {model!r}; it speaks the"
        " Anthropic (anthropic.*), Amazon Nova (amazon.nova-*) and Meta Llama (meta.llama*) formats."
    )

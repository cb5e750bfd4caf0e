"""litellm's ``Usage`` into the call: litellm normalises every provider's usage to OpenAI's shape.

``prompt_tokens`` already includes cache reads and writes (litellm adds Anthropic's separate counts in) and
``completion_tokens`` includes reasoning tokens, as the GenAI conventions count them. Cache reads are
``prompt_tokens_details.cached_tokens``; cache writes are Anthropic's ``cache_creation_input_tokens``, else
``prompt_tokens_details.cache_creation_tokens`` / ``cache_write_tokens``; reasoning tokens are
``completion_tokens_details.reasoning_tokens``.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import LLMCall


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _first_int(obj: Any, *names: str) -> int | None:
    if obj is None:
        return None
    for name in names:
        value = _int(getattr(obj, name, None))
        if value is not None:
            return value
    return None


def is_reported(usage: Any) -> bool:
    """False for no usage, and for litellm's placeholder when the provider reported nothing."""
    return usage is not None and type(usage).__name__ != "UnreportedUsage"


def record_usage(call: LLMCall, usage: Any) -> None:
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    cache_creation = _int(getattr(usage, "cache_creation_input_tokens", None))
    if not cache_creation:
        cache_creation = _first_int(prompt_details, "cache_creation_tokens", "cache_write_tokens")
    call.record_usage(
        input_tokens=_int(getattr(usage, "prompt_tokens", None)),
        output_tokens=_int(getattr(usage, "completion_tokens", None)),
        cached_input_tokens=_first_int(prompt_details, "cached_tokens"),
        cache_creation_input_tokens=cache_creation,
        reasoning_tokens=_first_int(completion_details, "reasoning_tokens"),
    )


def response_model(model: Any, prefix: str) -> str | None:
    if not isinstance(model, str):
        return None
    return model[len(prefix) :] if model.startswith(prefix) else model


def record_response(call: LLMCall, response: Any, model_prefix: str) -> None:
    """A whole ``ModelResponse`` / ``EmbeddingResponse``: usage, model, id, finish reasons."""
    usage = getattr(response, "usage", None)
    if is_reported(usage):
        record_usage(call, usage)
    choices = getattr(response, "choices", None) or ()
    reasons = tuple(
        reason
        for reason in (getattr(choice, "finish_reason", None) for choice in choices)
        if isinstance(reason, str)
    )
    model = getattr(response, "model", None)
    response_id = getattr(response, "id", None)
    call.record_response(
        model=response_model(model, model_prefix),
        response_id=response_id if isinstance(response_id, str) else None,
        finish_reasons=reasons or None,
    )
    if call.capture_content and choices:
        call.output_messages = [_output_message(choice) for choice in choices]


def _output_message(choice: Any) -> dict[str, Any]:
    content = getattr(getattr(choice, "message", None), "content", None)
    parts = [{"type": "text", "content": content}] if isinstance(content, str) else []
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    reason = getattr(choice, "finish_reason", None)
    if isinstance(reason, str):
        message["finish_reason"] = reason
    return message

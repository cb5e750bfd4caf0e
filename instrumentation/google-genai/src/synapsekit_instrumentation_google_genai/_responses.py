"""What a ``GenerateContentResponse`` (a whole response or one streamed chunk) says about the call."""

from __future__ import annotations

import json
from typing import Any

from synapsekit.plugin import LLMCall

from ._content import output_messages
from ._request import option
from ._usage import record_usage


def output_text(response: Any) -> str:
    """The text of every candidate's parts (thoughts included: they are output too).

    Read from the parts rather than ``response.text``, which looks at the first candidate only and warns
    about non-text parts.
    """
    pieces: list[str] = []
    for candidate in option(response, "candidates") or ():
        for part in option(option(candidate, "content"), "parts") or ():
            text = option(part, "text")
            if isinstance(text, str):
                pieces.append(text)
    return "".join(pieces)


def finish_reasons(response: Any) -> tuple[str, ...]:
    """Each candidate's finish reason, lower case as the GenAI conventions spell them (``stop``, ``max_tokens``)."""
    reasons: list[str] = []
    for candidate in option(response, "candidates") or ():
        reason = option(candidate, "finish_reason")
        value = getattr(reason, "value", reason)
        if isinstance(value, str) and value:
            reasons.append(value.lower())
    return tuple(reasons)


def record_metadata(call: LLMCall, response: Any) -> None:
    model = option(response, "model_version")
    response_id = option(response, "response_id")
    call.record_response(
        model=model if isinstance(model, str) else None,
        response_id=response_id if isinstance(response_id, str) else None,
        finish_reasons=finish_reasons(response) or None,
    )


def _raw_body(response: Any) -> Any:
    """The JSON body of a ``should_return_http_response`` answer, which the SDK returns unparsed."""
    body = option(option(response, "sdk_http_response"), "body")
    if not isinstance(body, str) or not body:
        return None
    return json.loads(body)


def finish_generate(call: LLMCall, response: Any) -> None:
    """End ``call`` with a whole ``generateContent`` response."""
    usage = option(response, "usage_metadata")
    if usage is None and option(response, "candidates") is None:
        body = _raw_body(response)
        if isinstance(body, dict):
            response, usage = body, body.get("usageMetadata")
    record_metadata(call, response)
    if call.capture_content:
        call.output_messages = output_messages(output_text(response), call.finish_reasons)
    if usage is not None and record_usage(call, usage):
        call.finish()
    else:
        # No usage (an answer the SDK left unparsed without a body): counts estimated from the prompt.
        call.abandon()

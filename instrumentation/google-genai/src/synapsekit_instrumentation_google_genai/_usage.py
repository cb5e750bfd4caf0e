"""Gemini ``usageMetadata`` → synapsekit counts.

Gemini reports ``promptTokenCount`` *including* the cached tokens (``cachedContentTokenCount``, priced lower)
and the tokens of tool-use prompts (grounding, code execution results) apart, in
``toolUsePromptTokenCount``: synapsekit's input is their sum, with the cache kept separately.
``candidatesTokenCount`` *excludes* the thinking tokens (``thoughtsTokenCount``), billed as output: the
output is their sum, with the thoughts kept separately as reasoning tokens — the OpenTelemetry GenAI
convention. ``totalTokenCount`` is the sum of all four; where an older SDK does not know
``thoughtsTokenCount`` (google-genai 1.0 drops it), the thinking is what the total has beyond the others.

The typed ``GenerateContentResponseUsageMetadata`` / ``UsageMetadata`` use snake_case names; a raw JSON
body (``should_return_http_response``) the wire's camelCase: both are read.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import LLMCall

from ._request import option


def count(usage: Any, field: str) -> int | None:
    value = option(usage, field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Vertex ``:predict`` statistics are typed as floats
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def input_counts(usage: Any) -> tuple[int | None, int]:
    """(input tokens including cache and tool-use prompts, cached tokens) of ``usage``."""
    prompt = count(usage, "prompt_token_count")
    if prompt is None:
        return None, 0
    total = prompt + (count(usage, "tool_use_prompt_token_count") or 0)
    return total, min(count(usage, "cached_content_token_count") or 0, total)


def record_usage(call: LLMCall, usage: Any) -> bool:
    """Record a final ``usage`` (a whole response's, a stream's last chunk's); False when it has no counts."""
    input_tokens, cached = input_counts(usage)
    candidates = count(usage, "candidates_token_count")
    thoughts = count(usage, "thoughts_token_count") or 0
    if input_tokens is None and candidates is None:
        return False
    total = count(usage, "total_token_count")
    if input_tokens is not None and total is not None and total - input_tokens > (candidates or 0) + thoughts:
        # SDKs older than the thoughts field drop it while parsing; the total still includes the thinking.
        thoughts = total - input_tokens - (candidates or 0)
    call.record_usage(
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        # Gemini leaves out zero counts: a response with usage but no candidates count produced nothing.
        output_tokens=(candidates or 0) + thoughts,
        reasoning_tokens=thoughts,
    )
    return True


def record_embedding_usage(call: LLMCall, response: Any) -> bool:
    """An embeddings response: ``usage_metadata.prompt_token_count`` (Gemini API, Vertex ``embedContent``)
    or, from Vertex ``:predict``, the sum of each embedding's ``statistics.token_count``."""
    input_tokens, _ = input_counts(option(response, "usage_metadata"))
    if input_tokens is None:
        embeddings = option(response, "embeddings")
        counts = [count(option(item, "statistics"), "token_count") for item in embeddings or ()]
        if not counts or None in counts:
            return False
        input_tokens = sum(c for c in counts if c is not None)
    call.record_usage(input_tokens=input_tokens, output_tokens=0)
    return True

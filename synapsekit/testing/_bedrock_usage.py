"""The numbers Bedrock reports, shared by Converse and InvokeModel: usage, invocation metrics, latency."""

from __future__ import annotations

from typing import Any

from ._plan import RequestContext, UsagePlan


def uncached_input(plan: UsagePlan) -> int:
    """Bedrock's input count excludes cache reads and writes, which it reports beside it (as Anthropic does)."""
    return max(plan.input_tokens - plan.cached_tokens - plan.cache_creation_tokens, 0)


def converse_usage(plan: UsagePlan) -> dict[str, Any]:
    """Converse's ``TokenUsage``: the total adds the cache reads and writes back in."""
    input_tokens = uncached_input(plan)
    usage: dict[str, Any] = {
        "inputTokens": input_tokens,
        "outputTokens": plan.output_tokens,
        "totalTokens": input_tokens + plan.output_tokens + plan.cached_tokens + plan.cache_creation_tokens,
    }
    # Bedrock leaves the cache fields out when no cache was read or written.
    if plan.cached_tokens:
        usage["cacheReadInputTokens"] = plan.cached_tokens
    if plan.cache_creation_tokens:
        usage["cacheWriteInputTokens"] = plan.cache_creation_tokens
    return usage


def latency_ms(ctx: RequestContext) -> int:
    """The latency Bedrock reports: the injected one (``x-test-latency-ms`` / ``latency_s``), so it is exact."""
    seconds = ctx.overrides.latency_s if ctx.overrides.latency_s is not None else ctx.config.latency_s
    return round(seconds * 1000)


def invocation_metrics(ctx: RequestContext, plan: UsagePlan, *, input_tokens: int) -> dict[str, Any]:
    """``amazon-bedrock-invocationMetrics``, which real Bedrock appends to the last streamed chunk."""
    latency = latency_ms(ctx)
    metrics: dict[str, Any] = {
        "inputTokenCount": input_tokens,
        "outputTokenCount": plan.output_tokens,
        "invocationLatency": latency,
        "firstByteLatency": latency,
    }
    if plan.cached_tokens:
        metrics["cacheReadInputTokenCount"] = plan.cached_tokens
    if plan.cache_creation_tokens:
        metrics["cacheWriteInputTokenCount"] = plan.cache_creation_tokens
    return metrics

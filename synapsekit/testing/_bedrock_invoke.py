"""Bedrock ``POST /model/{modelId}/invoke`` and ``/invoke-with-response-stream`` (boto3 ``invoke_model*``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from ._bedrock_bodies import InvokeAnswer, family_for
from ._bedrock_usage import invocation_metrics, latency_ms
from ._eventstream import CONTENT_TYPE, event_frame
from ._plan import RequestContext
from ._sse import JSONReply, Reply, StreamReply


def invoke(body: dict[str, Any], ctx: RequestContext, *, model: str, stream: bool) -> Reply:
    answer = family_for(model, body)(body, ctx, model)
    if not stream:
        return JSONReply(answer.body, headers=_token_headers(ctx, answer))
    metrics = invocation_metrics(ctx, answer.plan, input_tokens=answer.input_tokens)
    if not answer.reports_cache:
        metrics.pop("cacheReadInputTokenCount", None)
        metrics.pop("cacheWriteInputTokenCount", None)
    frames = []
    for index, (payload, is_content) in enumerate(answer.chunks):
        if index == len(answer.chunks) - 1:
            # Real Bedrock appends its own metrics to the model's last chunk.
            payload = {**payload, "amazon-bedrock-invocationMetrics": metrics}
        encoded = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode("ascii")
        frames.append(event_frame("chunk", {"bytes": encoded}, is_content=is_content))
    return StreamReply(
        frames, content_type=CONTENT_TYPE, headers={"X-Amzn-Bedrock-Content-Type": "application/json"}
    )


def _token_headers(ctx: RequestContext, answer: InvokeAnswer) -> dict[str, str]:
    """InvokeModel reports the counts (and latency) in response headers, beside the model's own body."""
    headers = {
        "X-Amzn-Bedrock-Input-Token-Count": str(answer.input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(answer.plan.output_tokens),
        "X-Amzn-Bedrock-Invocation-Latency": str(latency_ms(ctx)),
    }
    if answer.reports_cache and answer.plan.cached_tokens:
        headers["X-Amzn-Bedrock-Cache-Read-Input-Token-Count"] = str(answer.plan.cached_tokens)
    if answer.reports_cache and answer.plan.cache_creation_tokens:
        headers["X-Amzn-Bedrock-Cache-Write-Input-Token-Count"] = str(answer.plan.cache_creation_tokens)
    return headers

"""Instrumenting a generated (Stainless) SDK at its request pipeline: the machinery its instrumentors share.

openai and anthropic — and groq, cerebras-cloud-sdk and other SDKs generated the same way — send every request
through one method of their base client, ``<package>._base_client.SyncAPIClient.request`` (and its async
twin). An instrumentor for such an SDK describes it as a :class:`GeneratedSDK` — its package, which
``(method, path)`` routes are LLM calls and the :class:`Operation` that reads each, and where a client's
requests go (:class:`Endpoint`) — and installs a :class:`RequestPipeline`; everything between (routing,
budgets before the request leaves, the usage chunk of chat streams, stream proxies, raw and lazily read
responses, the SDK's own spans) is done here, the same way for every such SDK.

It lives in the OpenAI instrumentation because the SDKs generated this way that do not come from Anthropic
speak the OpenAI protocol and reuse its operations as well; ``synapsekit-instrumentation-anthropic`` depends on
this distribution for the pipeline alone.

Names load on first use (PEP 562), so that an instrumentor's module can name :class:`Endpoint` without
loading the pipeline before its client is there to patch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC: dict[str, str] = {
    "RAW_RESPONSE_HEADER": "._request",
    "Endpoint": "._endpoint",
    "GeneratedSDK": "._pipeline",
    "Operation": "._operation",
    "RequestInfo": "._operation",
    "RequestPipeline": "._pipeline",
    "SdkSpans": "._pipeline",
}

if TYPE_CHECKING:
    from ._endpoint import Endpoint
    from ._operation import Operation, RequestInfo
    from ._pipeline import GeneratedSDK, RequestPipeline, SdkSpans
    from ._request import RAW_RESPONSE_HEADER

__all__ = [
    "RAW_RESPONSE_HEADER",
    "Endpoint",
    "GeneratedSDK",
    "Operation",
    "RequestInfo",
    "RequestPipeline",
    "SdkSpans",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

"""``CerebrasInstrumentor``: the cerebras-cloud-sdk SDK, instrumented by the pipeline the OpenAI-compatible
generated SDKs share (``CompatibleSDKInstrumentor``); calls are reported as provider ``cerebras``.

Cerebras's chat completions go to ``/v1/chat/completions``; its streams report usage on their last chunk
unasked, so requests are sent as the caller wrote them. The connection warm-up the client sends when it is
built (``GET /v1/tcp_warming``) is not an LLM call and passes through.
"""

from __future__ import annotations

from typing import ClassVar

from synapsekit_instrumentation_openai.compatible_instrumentor import CompatibleSDKInstrumentor


class CerebrasInstrumentor(CompatibleSDKInstrumentor):
    name: ClassVar[str] = "cerebras"
    distribution: ClassVar[str] = "cerebras-cloud-sdk"
    supported: ClassVar[str] = ">=1.13.1,<2"
    module: ClassVar[str] = "cerebras.cloud.sdk"
    provider: ClassVar[str] = "cerebras"
    chat_paths: ClassVar[tuple[str, ...]] = ("/v1/chat/completions",)
    asks_stream_usage: ClassVar[bool] = False

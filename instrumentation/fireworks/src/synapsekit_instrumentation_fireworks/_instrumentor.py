"""``FireworksInstrumentor``: the fireworks-ai SDK, instrumented by the pipeline the OpenAI-compatible
generated SDKs share (``CompatibleSDKInstrumentor``); calls are reported as provider ``fireworks_ai``.

fireworks-ai sends chat completions to ``https://api.fireworks.ai/inference/v1/chat/completions``, or to
``/v1/chat/completions`` under a ``base_url`` the caller set. Its streams report usage on their last chunk
unasked, so requests are sent as the caller wrote them. fireworks-ai before 1.2 was a different, hand-written
SDK and is not supported.
"""

from __future__ import annotations

from typing import ClassVar

from synapsekit_instrumentation_openai.compatible_instrumentor import CompatibleSDKInstrumentor


class FireworksInstrumentor(CompatibleSDKInstrumentor):
    name: ClassVar[str] = "fireworks"
    distribution: ClassVar[str] = "fireworks-ai"
    supported: ClassVar[str] = ">=1.2,<2"
    module: ClassVar[str] = "fireworks"
    provider: ClassVar[str] = "fireworks_ai"
    chat_paths: ClassVar[tuple[str, ...]] = ("/v1/chat/completions", "/inference/v1/chat/completions")
    asks_stream_usage: ClassVar[bool] = False

"""``TogetherInstrumentor``: the together SDK, instrumented by the pipeline the OpenAI-compatible
generated SDKs share (``CompatibleSDKInstrumentor``); calls are reported as provider ``together_ai``.

together 3 sends chat completions to ``/v1/chat/completions`` (to ``https://api-inference.together.ai``
unless ``base_url`` is set); together 2 to ``/chat/completions`` under a base URL ending in ``/v1``. Its
streams report usage on their last chunk unasked, so requests are sent as the caller wrote them. together 1
was not a generated SDK and is not supported.
"""

from __future__ import annotations

from typing import ClassVar

from synapsekit_instrumentation_openai.compatible_instrumentor import CompatibleSDKInstrumentor


class TogetherInstrumentor(CompatibleSDKInstrumentor):
    name: ClassVar[str] = "together"
    distribution: ClassVar[str] = "together"
    supported: ClassVar[str] = ">=2,<4"
    module: ClassVar[str] = "together"
    provider: ClassVar[str] = "together_ai"
    chat_paths: ClassVar[tuple[str, ...]] = ("/v1/chat/completions", "/chat/completions")
    asks_stream_usage: ClassVar[bool] = False

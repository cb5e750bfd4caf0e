"""``GroqInstrumentor``: the groq SDK, instrumented by the pipeline the OpenAI-compatible
generated SDKs share (``CompatibleSDKInstrumentor``); calls are reported as provider ``groq``.

Groq's chat completions go to ``/openai/v1/chat/completions``. Groq's API takes
``stream_options.include_usage`` as OpenAI's does: a stream the caller did not ask for usage is asked on their
behalf (exact counts) and the extra usage-only chunk is hidden from them; ``instrument(include_stream_usage=False)``
turns that off.
"""

from __future__ import annotations

from typing import ClassVar

from synapsekit_instrumentation_openai.compatible_instrumentor import CompatibleSDKInstrumentor


class GroqInstrumentor(CompatibleSDKInstrumentor):
    name: ClassVar[str] = "groq"
    distribution: ClassVar[str] = "groq"
    supported: ClassVar[str] = ">=0.13,<2"
    module: ClassVar[str] = "groq"
    provider: ClassVar[str] = "groq"
    chat_paths: ClassVar[tuple[str, ...]] = ("/openai/v1/chat/completions",)
    asks_stream_usage: ClassVar[bool] = True

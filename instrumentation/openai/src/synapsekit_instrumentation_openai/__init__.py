"""synapsekit instrumentation for the ``openai`` SDK: ``synapsekit.instrument("openai")``.

Counts every chat completion, Responses and embeddings request, sync and async, streamed or not, including
the ``with_raw_response`` / ``with_streaming_response`` variants; recognises the provider behind an
OpenAI-compatible ``base_url`` (see :func:`detect_provider`).
"""

from ._instrumentor import OpenAIInstrumentor
from ._provider import PROVIDERS_ENV, detect_provider

__all__ = ["PROVIDERS_ENV", "OpenAIInstrumentor", "detect_provider"]

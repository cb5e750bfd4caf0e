"""The spec's LLM classes: :class:`~synapsekit.BaseLLM` and the OpenAI, Anthropic and offline models.

Each ``generate``/``stream`` is one call of the core lifecycle; when the underlying SDK is instrumented the
SDK's own call is the one counted (closest to the wire) and the class only enriches it.
"""

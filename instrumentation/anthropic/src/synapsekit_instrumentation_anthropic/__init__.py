"""synapsekit instrumentation for the anthropic Python SDK (``synapsekit.instrument("anthropic")``)."""

from synapsekit_instrumentation_anthropic._instrumentor import AnthropicInstrumentor

__all__ = ["AnthropicInstrumentor"]

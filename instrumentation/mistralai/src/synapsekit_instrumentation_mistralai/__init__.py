"""synapsekit instrumentation for the mistralai Python SDK (``synapsekit.instrument("mistralai")``)."""

from synapsekit_instrumentation_mistralai._instrumentor import MistralAIInstrumentor

__all__ = ["MistralAIInstrumentor"]

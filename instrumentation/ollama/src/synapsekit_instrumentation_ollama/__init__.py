"""synapsekit instrumentation for the ollama Python client (``synapsekit.instrument("ollama")``)."""

from synapsekit_instrumentation_ollama._instrumentor import OllamaInstrumentor

__all__ = ["OllamaInstrumentor"]

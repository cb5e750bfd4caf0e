"""synapsekit instrumentation for the groq Python SDK (``synapsekit.instrument("groq")``)."""

from synapsekit_instrumentation_groq._instrumentor import GroqInstrumentor

__all__ = ["GroqInstrumentor"]

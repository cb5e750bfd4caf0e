"""synapsekit instrumentation for the fireworks-ai Python SDK (``synapsekit.instrument("fireworks")``)."""

from synapsekit_instrumentation_fireworks._instrumentor import FireworksInstrumentor

__all__ = ["FireworksInstrumentor"]

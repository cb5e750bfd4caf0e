"""synapsekit instrumentation for the cohere Python SDK (``synapsekit.instrument("cohere")``)."""

from synapsekit_instrumentation_cohere._instrumentor import CohereInstrumentor

__all__ = ["CohereInstrumentor"]

"""synapsekit instrumentation for the together Python SDK (``synapsekit.instrument("together")``)."""

from synapsekit_instrumentation_together._instrumentor import TogetherInstrumentor

__all__ = ["TogetherInstrumentor"]

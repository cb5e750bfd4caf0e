"""synapsekit instrumentation for the cerebras-cloud-sdk Python SDK (``synapsekit.instrument("cerebras")``)."""

from synapsekit_instrumentation_cerebras._instrumentor import CerebrasInstrumentor

__all__ = ["CerebrasInstrumentor"]

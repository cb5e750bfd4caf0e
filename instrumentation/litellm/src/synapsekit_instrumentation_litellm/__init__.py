"""synapsekit instrumentation for litellm's own provider paths (``synapsekit.instrument("litellm")``)."""

from ._instrumentor import LiteLLMInstrumentor

__all__ = ["LiteLLMInstrumentor"]

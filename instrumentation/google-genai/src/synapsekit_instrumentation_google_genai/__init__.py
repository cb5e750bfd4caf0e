"""synapsekit instrumentation for the google-genai Python SDK (``synapsekit.instrument("google-genai")``)."""

from synapsekit_instrumentation_google_genai._instrumentor import GoogleGenAIInstrumentor

__all__ = ["GoogleGenAIInstrumentor"]

"""synapsekit instrumentation for Amazon Bedrock through botocore (``synapsekit.instrument("botocore")``)."""

from synapsekit_instrumentation_botocore._instrumentor import BotocoreInstrumentor

__all__ = ["BotocoreInstrumentor"]

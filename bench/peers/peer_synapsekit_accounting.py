"""synapsekit, accounting only: ``synapsekit.instrument("openai")``, no tracing SDK, no sink."""

from _scenario import main

import synapsekit

synapsekit.instrument("openai")
main(
    "synapsekit (accounting only)",
    distributions=["synapsekit", "synapsekit-instrumentation-openai"],
    notes="tokens counted per call; no spans",
)

"""synapsekit, spans only: what openai-v2 does (a span per call), for a like-for-like comparison.

Instrumented, with the same dropping SDK tracer provider as every OpenTelemetry peer; no budget and no
Prometheus. The span carries usage, cost and the request/response attributes of the GenAI conventions.
"""

from _scenario import install_dropping_tracer_provider, main

import synapsekit

provider, exporter = install_dropping_tracer_provider()
synapsekit.instrument("openai")
synapsekit.compute_cost("openai", "gpt-4o-mini", input_tokens=1, output_tokens=1)  # load prices up front
main(
    "synapsekit (spans only)",
    distributions=["synapsekit", "synapsekit-instrumentation-openai", "opentelemetry-sdk"],
    exporter=exporter,
    flush=provider.force_flush,
    notes="spans (with cost on the span); no budget, no Prometheus",
)

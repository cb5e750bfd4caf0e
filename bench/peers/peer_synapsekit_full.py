"""synapsekit, full: spans (SDK, batch processor, dropped), cost, a budget scope, Prometheus attached."""

from _scenario import install_dropping_tracer_provider, main

import synapsekit
from synapsekit.observability import PrometheusMetrics

provider, exporter = install_dropping_tracer_provider()
synapsekit.instrument("openai", metrics=PrometheusMetrics())
synapsekit.compute_cost("openai", "gpt-4o-mini", input_tokens=1, output_tokens=1)  # load prices up front
main(
    "synapsekit (full)",
    distributions=[
        "synapsekit",
        "synapsekit-instrumentation-openai",
        "opentelemetry-sdk",
        "prometheus-client",
    ],
    exporter=exporter,
    flush=provider.force_flush,
    around=synapsekit.budget(max_cost_usd=1_000_000.0, window="day"),
    notes="spans + cost + budget admission/settlement + Prometheus",
)

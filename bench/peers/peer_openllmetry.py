"""OpenLLMetry's ``opentelemetry-instrumentation-openai`` (Traceloop), batch processor, spans dropped."""

import os

from _scenario import install_dropping_tracer_provider, main

# Same footing as the others: no prompt/completion content on spans.
os.environ["TRACELOOP_TRACE_CONTENT"] = "false"
provider, exporter = install_dropping_tracer_provider()

# Not installed in the workspace's environment, only in this peer's virtualenv.
from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # type: ignore[import-not-found]  # noqa: E402

OpenAIInstrumentor().instrument()
main(
    "OpenLLMetry opentelemetry-instrumentation-openai",
    distributions=["opentelemetry-instrumentation-openai", "opentelemetry-sdk"],
    exporter=exporter,
    flush=provider.force_flush,
    notes="TRACELOOP_TRACE_CONTENT=false",
)

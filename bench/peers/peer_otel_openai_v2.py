"""OpenTelemetry's ``opentelemetry-instrumentation-openai-v2``: spans only, batch processor, spans dropped."""

from _scenario import install_dropping_tracer_provider, main

provider, exporter = install_dropping_tracer_provider()

# Not installed in the workspace's environment, only in this peer's virtualenv.
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # type: ignore[import-not-found]  # noqa: E402

OpenAIInstrumentor().instrument()
main(
    "opentelemetry-instrumentation-openai-v2",
    distributions=["opentelemetry-instrumentation-openai-v2", "opentelemetry-sdk"],
    exporter=exporter,
    flush=provider.force_flush,
    notes="content capture off (its default)",
)

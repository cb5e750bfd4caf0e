"""Pydantic logfire, local only: nothing sent to logfire, no console, spans to a dropping batch processor."""

# Not installed in the workspace's environment, only in this peer's virtualenv.
import logfire  # type: ignore[import-not-found]
from _scenario import DroppingSpanExporter, main
from opentelemetry.sdk.trace.export import BatchSpanProcessor

exporter = DroppingSpanExporter()
logfire.configure(
    send_to_logfire=False,
    console=False,
    additional_span_processors=[BatchSpanProcessor(exporter)],  # type: ignore[arg-type]
    inspect_arguments=False,
)
logfire.instrument_openai()
main(
    "logfire",
    distributions=["logfire", "opentelemetry-sdk"],
    exporter=exporter,
    flush=logfire.force_flush,
    notes="send_to_logfire=False, console=False",
)

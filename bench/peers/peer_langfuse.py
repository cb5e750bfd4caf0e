"""Langfuse's OpenAI drop-in with no server: its span exporter replaced by one that drops the spans.

The client points at a closed loopback port (127.0.0.1:9) so that anything it might still send fails on
this machine instead of reaching the internet.
"""

from _scenario import DroppingSpanExporter, main

# Not installed in the workspace's environment, only in this peer's virtualenv.
from langfuse import Langfuse  # type: ignore[import-not-found]

exporter = DroppingSpanExporter()
client = Langfuse(
    public_key="pk-lf-bench",
    secret_key="sk-lf-bench",
    base_url="http://127.0.0.1:9",
    span_exporter=exporter,
)

# The drop-in patches the openai SDK's classes when imported.
import langfuse.openai  # type: ignore[import-not-found]  # noqa: E402, F401

main(
    "langfuse",
    distributions=["langfuse", "opentelemetry-sdk"],
    exporter=exporter,
    flush=client.flush,
    notes="OpenAI drop-in; exporter replaced, host 127.0.0.1:9",
)

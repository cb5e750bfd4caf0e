"""openlit, reusing an SDK provider whose batch processor drops spans; prices from a local file.

Left to itself, ``openlit.init()`` downloads its price list from GitHub and prints spans to the console:
the price list is given as a local file (same gpt-4o-mini prices as genai-prices) and the tracer provider
is installed first, which openlit reuses. Metrics and events are off (spans only, like the others).
"""

import json
import tempfile

from _scenario import install_dropping_tracer_provider, main

provider, exporter = install_dropping_tracer_provider()
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as prices:
    json.dump({"chat": {"gpt-4o-mini": {"promptPrice": 0.00015, "completionPrice": 0.0006}}}, prices)

# Not installed in the workspace's environment, only in this peer's virtualenv.
import openlit  # type: ignore[import-not-found]  # noqa: E402

openlit.init(
    application_name="bench",
    disable_metrics=True,
    disable_events=True,
    capture_message_content=False,
    pricing_json=prices.name,
)
main(
    "openlit",
    distributions=["openlit", "opentelemetry-sdk"],
    exporter=exporter,
    flush=provider.force_flush,
    notes="metrics and events off, content off, local price file",
)

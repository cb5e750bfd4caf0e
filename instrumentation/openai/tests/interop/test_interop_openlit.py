"""openlit and synapsekit on one openai SDK, either order (``nox -s interop_openlit``: openlit needs openai < 3).

``openlit.init()`` patches once per process, so each order runs in a child interpreter of its own, against the
parent's test server; the child reports what it saw as JSON. openlit reads a local price file (left to itself
it downloads one) and reuses the tracer provider installed before it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("uninstrument_after")

CHILD = """
import json, sys, tempfile
from collections import Counter

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

import openai
import synapsekit
from synapsekit._core.errors import set_strict
from synapsekit.testing import CallRecorder

set_strict(True)
base_url, order = sys.argv[1], sys.argv[2]
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as prices:
    json.dump({"chat": {"gpt-4o-mini": {"promptPrice": 0.00015, "completionPrice": 0.0006}}}, prices)


def openlit_on():
    import openlit

    openlit.init(
        application_name="interop",
        disable_metrics=True,
        disable_events=True,
        capture_message_content=False,
        pricing_json=prices.name,
    )


if order == "theirs-first":
    openlit_on()
    synapsekit.instrument("openai")
else:
    synapsekit.instrument("openai")
    openlit_on()

client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0)
report = {}


def exchange(label):
    exporter.clear()
    with CallRecorder() as calls:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three"}])
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three"}], stream=True
            )
        )
    report[label] = {
        "chunks": len(chunks),
        "chunks_with_choices": sum(1 for chunk in chunks if chunk.choices),
        "calls": [[c.input_tokens, c.output_tokens, c.usage_estimated] for c in calls.ended],
        "spans": dict(Counter(span.instrumentation_scope.name for span in exporter.get_finished_spans())),
    }


exchange("both")
from openlit.instrumentation.openai import OpenAIInstrumentor

OpenAIInstrumentor().uninstrument()
exchange("after_their_uninstrument")
synapsekit.uninstrument("openai")
exchange("after_our_uninstrument")
print(json.dumps(report))
"""


def run(server: LLMTestServer, order: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), server.openai_base_url, order],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("order", ["theirs-first", "ours-first"])
def test_openlit_and_synapsekit_in_either_order(server: LLMTestServer, order: str) -> None:
    report = run(server, order)
    exact = [[3, 12, False], [3, 12, False]]
    both = report["both"]
    assert (both["chunks"], both["chunks_with_choices"], both["calls"]) == (14, 14, exact)
    assert both["spans"]["synapsekit"] == 2
    assert both["spans"]["openlit.instrumentation.openai"] == 2
    # openlit's uninstrument() removes nothing (not its own patches either): ours goes on counting.
    after_theirs = report["after_their_uninstrument"]
    assert (after_theirs["chunks"], after_theirs["calls"], after_theirs["spans"]["synapsekit"]) == (
        14,
        exact,
        2,
    )
    # Ours removes only ours: openlit goes on recording, the caller sees the same chunks.
    after_ours = report["after_our_uninstrument"]
    assert (after_ours["chunks"], after_ours["calls"]) == (14, [])
    assert "synapsekit" not in after_ours["spans"]
    assert after_ours["spans"]["openlit.instrumentation.openai"] == 2

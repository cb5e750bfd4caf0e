"""The client side of the end-to-end test: calls the server inside a CLIENT span, propagating its context.

Usage, from tests/: ``python -m observability._services.client_service FORMAT SINGLE_HEADER(1|0)
TRANSPORT(urllib|httpx2) URL SPANS_FILE``. Prints the client span's ids and the server's JSON reply as one
JSON object.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

import httpx2

from observability._services.jsonl_exporter import install
from synapsekit.observability._distributed import DistributedTracer


def call(tracer: DistributedTracer, transport: str, url: str) -> Any:
    if transport == "urllib":
        request = urllib.request.Request(url, headers=tracer.inject_context({"Accept": "application/json"}))
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    with tracer.instrument_http_client(httpx2.Client(timeout=30)) as client:
        return client.get(url).json()


def main(propagation_format: str, single_header: str, transport: str, url: str, spans_path: str) -> None:
    provider = install("storefront-service", spans_path)
    single = single_header == "1"
    tracer = DistributedTracer("storefront-service", propagation_format, b3_single_header=single)
    with tracer.start_span("call inventory", kind="client") as span:
        reply = call(tracer, transport, url)
    provider.shutdown()
    print(json.dumps({"trace_id": span.trace_id, "span_id": span.span_id, "reply": reply}))


if __name__ == "__main__":
    main(*sys.argv[1:6])

"""The server side of the end-to-end test: a stdlib HTTP server that continues the caller's trace.

Usage, from tests/: ``python -m observability._services.server_service FORMAT SPANS_FILE``. Prints
``PORT <n>`` once listening on 127.0.0.1; ``GET /work`` handles a request inside a SERVER span,
``GET /shutdown`` stops the process.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from observability._services.jsonl_exporter import install
from synapsekit.observability._distributed import DistributedTracer


def main(propagation_format: str, spans_path: str) -> None:
    provider = install("inventory-service", spans_path)
    tracer = DistributedTracer("inventory-service", propagation_format)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/shutdown":
                self._reply({"stopping": True})
                threading.Thread(target=server.shutdown).start()
                return
            parent = tracer.extract_context(self.headers)
            with tracer.start_span("GET /work", parent_context=parent, kind="server") as span:
                span.set_attribute("items.count", 3)
                body = {"parent": parent, "trace_id": span.trace_id, "span_id": span.span_id}
            # Reply after the span has ended (and been exported), so the client's exit implies it is on disk.
            self._reply(body)

        def _reply(self, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

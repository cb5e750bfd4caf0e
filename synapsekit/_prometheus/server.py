"""The scrape side: which registry a scrape reads, and the HTTP endpoint that serves it.

prometheus-client's multiprocess mode (for gunicorn/uvicorn workers) is on when ``PROMETHEUS_MULTIPROC_DIR``
names a directory *before prometheus_client is first imported*: every worker then writes its values to
files there, and a scrape must aggregate those files with a ``MultiProcessCollector`` in a registry of its
own, rather than read the metric objects of the one worker that happens to answer.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry

MULTIPROC_DIR_ENV_VAR: Final = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV_VAR) or None


def scrape_registry(registry: CollectorRegistry) -> CollectorRegistry:
    """The registry a scrape should read: ``registry``, or the aggregate of every worker's files."""
    directory = multiprocess_dir()
    if directory is None:
        return registry
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    aggregate = CollectorRegistry()
    # prometheus-client leaves this constructor unannotated.
    MultiProcessCollector(aggregate, path=directory)  # type: ignore[no-untyped-call]
    return aggregate


class MetricsServer:
    """A running scrape endpoint (prometheus-client's threaded WSGI server)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve(registry: CollectorRegistry, *, host: str, port: int) -> MetricsServer:
    """Serve ``registry`` on ``host:port`` (``port=0`` picks a free port); a busy port is a clear error."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer in 0..65535, got {port!r}")
    import prometheus_client

    try:
        server, thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                errno.EADDRINUSE,
                f"cannot start the Prometheus metrics server on {host}:{port}: port {port} is already in use "
                "(choose another port, or port=0 for a free one)",
            ) from exc
        raise OSError(
            exc.errno, f"cannot start the Prometheus metrics server on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return MetricsServer(server, thread)

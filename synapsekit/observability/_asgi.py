"""ASGI middleware: every HTTP request of an app runs inside a SERVER span joined to the caller's trace."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from synapsekit.observability._distributed import DistributedTracer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Methods named as such in span names and attributes; anything else is "_OTHER" (OpenTelemetry HTTP
# semantic conventions), so a client cannot mint arbitrary span names through the method.
_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)
_MAX_PATH_LENGTH = 256
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def _method(scope: Scope) -> str:
    method = scope.get("method")
    return method if isinstance(method, str) and method in _KNOWN_METHODS else "_OTHER"


def _path(scope: Scope) -> str:
    path = scope.get("path")
    if not isinstance(path, str) or not path:
        return "/"
    # The path is request text: keep span names printable and bounded.
    return _UNPRINTABLE.sub("?", path[:_MAX_PATH_LENGTH])


class TraceContextMiddleware:
    """Extract the incoming trace context (W3C or B3) and run each HTTP request in a SERVER span.

    The span is named ``span_name`` when given, else ``"{METHOD} {path}"`` (``"HTTP {path}"`` for an
    unknown method). It is current while the app handles the request, so the app's own spans, LLM calls
    and :meth:`DistributedTracer.inject_context` calls continue the caller's trace. Responses with a 5xx
    status and exceptions escaping the app mark the span as an error. A request whose baggage names a budget
    propagated by the caller (``budget(..., propagate=True)``) joins it for its duration (``docs/budgets.md``).
    Other scope types (``lifespan``, ``websocket``) pass through untouched.
    """

    def __init__(self, app: ASGIApp, tracer: DistributedTracer, span_name: str | None = None) -> None:
        self.app = app
        self.tracer = tracer
        self.span_name = span_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        method = _method(scope)
        path = _path(scope)
        name = self.span_name or f"{'HTTP' if method == '_OTHER' else method} {path}"
        parent = self.tracer.extract_context(scope.get("headers") or [])
        async with self.tracer.start_span(name, parent_context=parent, kind="server") as span:
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", path)
            scheme = scope.get("scheme")
            if scheme in ("http", "https"):
                span.set_attribute("url.scheme", scheme)

            async def send_with_status(message: Message) -> None:
                if message.get("type") == "http.response.start":
                    status = message.get("status")
                    if isinstance(status, int):
                        span.set_attribute("http.response.status_code", status)
                        if status >= 500:
                            span.set_status("error")
                await send(message)

            await self.app(scope, receive, send_with_status)

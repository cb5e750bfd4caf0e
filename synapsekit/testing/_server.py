"""The HTTP side of the test server: a stdlib ``ThreadingHTTPServer`` in a daemon thread."""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ._plan import InvalidRequest, Overrides, RequestContext, ServerConfig, parse_overrides
from ._provider_errors import Provider, error_body, error_headers
from ._routes import MISTRAL_PREFIX, guess_provider, resolve
from ._sse import Frame, JSONReply, Reply, StreamReply

# How long an idle keep-alive connection may hold its handler thread.
_IDLE_CONNECTION_TIMEOUT_S = 30.0
# serve_forever's poll interval bounds how long stop() waits for the accept loop to notice.
_POLL_INTERVAL_S = 0.02


@dataclass(frozen=True)
class RecordedRequest:
    """One request to a model endpoint, as received (``json`` is ``None`` when the body was not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: float | None


@dataclass(frozen=True)
class _Admission:
    """A model request's sequence number and the queued fault (if any) it consumed."""

    sequence: int
    fault: _Fault | None


class LLMTestServer:
    """A local LLM API server (OpenAI, Anthropic, Gemini, Bedrock, Mistral, Cohere, Ollama) with deterministic
    answers; see the package docs."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        output_tokens: int = 12,
        input_tokens: int | None = None,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        cache_creation_tokens: int = 0,
        latency_s: float = 0.0,
        response_models: dict[str, str] | None = None,
    ) -> None:
        counts = {
            "output_tokens": output_tokens,
            "cached_tokens": cached_tokens,
            "reasoning_tokens": reasoning_tokens,
            "cache_creation_tokens": cache_creation_tokens,
        }
        if input_tokens is not None:
            counts["input_tokens"] = input_tokens
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not latency_s >= 0.0:
            raise ValueError(f"latency_s must be >= 0, got {latency_s!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port!r}")
        self._host = host
        self._requested_port = port
        self._config = ServerConfig(
            output_tokens=output_tokens,
            input_tokens=input_tokens,
            cached_tokens=cached_tokens,
            reasoning_tokens=reasoning_tokens,
            cache_creation_tokens=cache_creation_tokens,
            latency_s=latency_s,
            response_models=dict(response_models or {}),
        )
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: collections.deque[_Fault] = collections.deque()
        self._sequence = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LLMTestServer:
        """Bind and serve in a daemon thread; calling it on a running server does nothing."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(self._host, self._requested_port, self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"synapsekit-llm-test-server:{httpd.bound_port}",
            daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join()

    def __enter__(self) -> LLMTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "stopped"
        return f"<LLMTestServer {where}>"

    # -- addresses -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._running().bound_port

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    @property
    def gemini_base_url(self) -> str:
        """For ``google-genai``'s ``http_options={"base_url": ...}``, Gemini API and Vertex mode alike."""
        return self.base_url

    @property
    def bedrock_base_url(self) -> str:
        """For boto3's ``endpoint_url=`` on a ``bedrock-runtime`` client."""
        return self.base_url

    @property
    def mistral_base_url(self) -> str:
        """For ``mistralai``'s ``server_url=``: the path prefix selects Mistral's dialect of chat completions."""
        return f"{self.base_url}{MISTRAL_PREFIX}"

    @property
    def groq_base_url(self) -> str:
        """For ``groq.Groq(base_url=...)``: the SDK adds ``/openai/v1`` itself."""
        return self.base_url

    @property
    def cerebras_base_url(self) -> str:
        """For ``cerebras.cloud.sdk.Cerebras(base_url=...)``: chat streams end with usage on the finish chunk."""
        return f"{self.base_url}/cerebras"

    @property
    def together_base_url(self) -> str:
        """For ``together.Together(base_url=...)``: chat streams end with usage on the finish chunk."""
        return f"{self.base_url}/together"

    @property
    def fireworks_base_url(self) -> str:
        """For ``fireworks.Fireworks(base_url=...)``: chat streams end with usage on the finish chunk."""
        return f"{self.base_url}/fireworks"

    @property
    def cohere_base_url(self) -> str:
        """For ``cohere.ClientV2(base_url=...)``."""
        return self.base_url

    @property
    def ollama_base_url(self) -> str:
        """For ``ollama.Client(host=...)``."""
        return self.base_url

    def _running(self) -> _HTTPServer:
        if self._httpd is None:
            raise RuntimeError("LLMTestServer is not running; call start() or use it as a context manager")
        return self._httpd

    # -- recording and fault injection -----------------------------------------------------------

    @property
    def config(self) -> ServerConfig:
        return self._config

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the model requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget recorded requests and drop queued faults."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    def fail_next(self, status: int, count: int = 1, *, retry_after: float | None = None) -> None:
        """Answer the next ``count`` model requests with error ``status`` (plus ``retry-after`` if given)."""
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        if retry_after is not None and not retry_after >= 0.0:
            raise ValueError(f"retry_after must be >= 0, got {retry_after!r}")
        with self._lock:
            self._faults.extend(_Fault(status, retry_after) for _ in range(count))

    def _admit(self, request: RecordedRequest) -> _Admission:
        with self._lock:
            self._requests.append(request)
            self._sequence += 1
            return _Admission(self._sequence, self._faults.popleft() if self._faults else None)

    def _next_sequence(self) -> int:
        with self._lock:
            self._sequence += 1
            return self._sequence


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # Hundreds of concurrent clients connect at once in load tests; the default backlog of 5 drops them.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response (a cut or abandoned stream) is normal here, not an error.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, host: str, port: int, owner: LLMTestServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup that can stall startup for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = self.bound_port

    @property
    def bound_port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut keep-alive connections, so a stopped server answers nothing more on them."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_CONNECTION_TIMEOUT_S
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body waits ~40 ms for the
    # client's delayed ACK on every keep-alive request.
    disable_nagle_algorithm = True

    # The provider whose format the current request is answered in (set first thing in _dispatch).
    _provider: Provider = "openai"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output should not fill with access logs."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- request handling ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        owner = self.server.owner
        url = urlsplit(self.path)
        path = url.path
        raw_body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        route = resolve(path, url.query)
        # OpenAI and Anthropic share the /v1 prefix: their errors follow the client (anthropic-version).
        provider: Provider = (
            route.provider
            if route is not None and route.provider not in ("openai", "anthropic")
            else guess_provider(path, headers)
        )
        self._provider = provider
        if route is None or self.command != "POST":
            if self.command == "GET" and path == "/health":
                self._send_json(200, {"status": "ok"}, request_id=f"req_{owner._next_sequence():024x}")
                return
            message = f"Unknown request URL: {self.command} {path}."
            if route is None and path.startswith(("/chat/", "/responses", "/embeddings")):
                message += " Use LLMTestServer.openai_base_url (it ends in /v1) as the OpenAI base URL."
            self._send_error(provider, 404, message, request_id=f"req_{owner._next_sequence():024x}")
            return
        endpoint = route.endpoint

        payload, well_formed = _parse_json(raw_body)
        admission = owner._admit(
            RecordedRequest(self.command, path, headers, payload if well_formed else None)
        )
        request_id = f"req_{admission.sequence:024x}"
        try:
            overrides = parse_overrides(headers)
        except InvalidRequest as exc:
            self._send_error(provider, exc.status, exc.message, request_id=request_id, param=exc.param)
            return
        latency = overrides.latency_s if overrides.latency_s is not None else owner.config.latency_s
        if latency > 0:
            time.sleep(latency)
        if admission.fault is not None:
            fault = admission.fault
            message = f"Injected failure: HTTP {fault.status} (LLMTestServer.fail_next)."
            self._send_error(
                provider, fault.status, message, request_id=request_id, retry_after=fault.retry_after
            )
            return
        if overrides.status is not None:
            message = f"Injected failure: HTTP {overrides.status} (x-test-status header)."
            self._send_error(
                provider, overrides.status, message, request_id=request_id, retry_after=overrides.retry_after
            )
            return
        if not well_formed or not isinstance(payload, dict):
            message = "We could not parse the JSON body of your request: expected a JSON object."
            self._send_error(provider, 400, message, request_id=request_id)
            return
        context = RequestContext(owner.config, overrides, admission.sequence, int(time.time()))
        try:
            reply = endpoint(payload, context)
        except InvalidRequest as exc:
            self._send_error(provider, exc.status, exc.message, request_id=request_id, param=exc.param)
            return
        self._send_reply(reply, overrides, request_id)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            try:
                return self.rfile.read(max(int(length), 0))
            except ValueError:
                self.close_connection = True
                return b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked_body()
        return b""

    def _read_chunked_body(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self.rfile.readline(65537)
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                self.close_connection = True
                return b""
            if size == 0:
                while self.rfile.readline(65537).strip():
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(3)

    # -- responses -------------------------------------------------------------------------------

    def _send_reply(self, reply: Reply, overrides: Overrides, request_id: str) -> None:
        if isinstance(reply, JSONReply):
            if overrides.drop_after is not None:
                # A plain response has nothing to stream, so "drop" means: hang up before answering.
                self._drop_connection()
                return
            self._send_json(200, reply.body, request_id=request_id, extra_headers=reply.headers)
            return
        assert isinstance(reply, StreamReply)
        self._send_stream(reply, overrides, request_id)

    def _send_json(
        self,
        status: int,
        body: dict[str, Any],
        *,
        request_id: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self._send_request_id(request_id)
            for name, value in (extra_headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _send_error(
        self,
        provider: Provider,
        status: int,
        message: str,
        *,
        request_id: str,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        headers = error_headers(provider, status)
        if retry_after is not None:
            headers["retry-after"] = _format_seconds(retry_after)
        body = error_body(provider, status, message, request_id=request_id, param=param)
        self._send_json(status, body, request_id=request_id, extra_headers=headers)

    def _send_request_id(self, request_id: str) -> None:
        self.send_header("x-request-id", request_id)
        self.send_header("request-id", request_id)
        if self._provider == "bedrock":
            # botocore reads the request id from AWS's own header into ResponseMetadata.RequestId.
            self.send_header("x-amzn-RequestId", request_id)

    def _send_stream(self, reply: StreamReply, overrides: Overrides, request_id: str) -> None:
        frames = reply.frames
        cut = len(frames) if overrides.drop_after is None else _drop_index(frames, overrides.drop_after)
        try:
            self.send_response(200)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self._send_request_id(request_id)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            for index, frame in enumerate(frames[:cut]):
                if index and overrides.chunk_delay_s:
                    time.sleep(overrides.chunk_delay_s)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(frame.data), frame.data))
            if cut < len(frames):
                self._drop_connection()
                return
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            # The client went away mid-stream; nothing left to tell it.
            self.close_connection = True

    def _drop_connection(self) -> None:
        """Hang up without finishing the HTTP message, so the client sees a truncated body."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _drop_index(frames: list[Frame], drop_after: int) -> int:
    """The frame index at which the stream is cut: after ``drop_after`` content frames."""
    content_positions = [index for index, frame in enumerate(frames) if frame.is_content]
    if drop_after < len(content_positions):
        return content_positions[drop_after]
    if content_positions:
        return content_positions[-1] + 1
    return min(1, len(frames))


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    try:
        return json.loads(raw), True
    except (ValueError, UnicodeDecodeError):
        return None, False


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))

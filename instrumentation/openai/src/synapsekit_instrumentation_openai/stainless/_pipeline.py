"""The request pipeline of a generated SDK, instrumented where every request passes.

Resource methods (``client.chat.completions.create``), ``client.post(...)``/``get(...)``, the
``with_raw_response``/``with_streaming_response`` views and the helpers (``.stream()``, ``.parse()``) all
end in one method of the SDK's base client: ``SyncAPIClient.request`` / ``AsyncAPIClient.request``
(``<package>._base_client``), ``request(cast_to, options, *, stream=False, stream_cls=None)`` in every
supported version. Its retry loop runs inside it, so one call of ``request`` is one request as the caller
sees it, however many attempts the SDK makes. :class:`RequestPipeline` wraps those two methods and
dispatches on the request's method and path: a route it knows is an LLM call, anything else passes straight
through.

For an LLM call the wrapper reads the request (model, output limit, prompt — see :class:`.Operation`), starts
the call (budgets admit it here: a refused request is never sent), asks a chat stream for its usage when the
caller did not, sends the request with the call in flight, and reads what ``request`` returns:

- a parsed response (an SDK model, or plain JSON for ``client.post(..., cast_to=object)``): recorded at once;
- an SDK stream: handed back in a :class:`~synapsekit.plugin.SyncStreamProxy` /
  :class:`~synapsekit.plugin.AsyncStreamProxy` that reads each parsed item;
- a raw response wrapper (``with_raw_response``, ``with_streaming_response``) or a bare HTTP response: the
  caller's own object, untouched; a body already read is read as JSON at once, a body still unread is read
  alongside the caller as it reads it (see :mod:`._body`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from synapsekit.plugin import (
    AsyncStreamProxy,
    SyncStreamProxy,
    report_internal_error,
    unwrap_method,
    wrap_method,
)

from ._body import read_alongside, settle, settle_json
from ._endpoint import Endpoint, endpoint_of_url
from ._operation import Operation
from ._request import (
    LAZY_RAW_MODE,
    Routes,
    ask_for_stream_usage,
    raw_mode,
    read_options,
    request_body,
    route,
)
from ._results import ASYNC_STREAM, PARSED, RAW_RESPONSE, STREAM, ResultKinds

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


def _load_start_call(*args: Any, **kwargs: Any) -> LLMCall:
    """``synapsekit.plugin.start_call``, loaded by the first call rather than by instrumenting.

    The call machinery (pricing tables, spans, scopes) is the larger part of what instrumenting would otherwise
    import; an application that instruments and never calls should not pay for it. This stands in for it until
    the first call, which puts the real one in its place: every call after reads the same global.
    """
    global _start_call
    from synapsekit.plugin import start_call

    _start_call = start_call
    return start_call(*args, **kwargs)


_start_call: Callable[..., LLMCall] = _load_start_call


class SdkSpans(Protocol):
    """An SDK that starts its own OpenTelemetry span per request, which synapsekit adopts as the call's.

    ``emits_span(client, options)``: whether the SDK will start one for this request of this client
    (synapsekit then starts none of its own). ``offer(call)`` is called just before the request is sent and ``withdraw(token)`` right
    after, so that the span the SDK starts in between can be adopted.
    """

    def emits_span(self, client: Any, options: Any) -> bool: ...

    def offer(self, call: LLMCall) -> Any: ...

    def withdraw(self, token: Any) -> None: ...


class GeneratedSDK(NamedTuple):
    """One generated SDK and what its requests mean.

    ``package``: its import name (``"openai"``); its base client is ``<package>._base_client``.
    ``routes``: ``(method, path) -> Operation``, lower-case method and the path as resource methods send it
    (``("post", "/chat/completions")``); every other request passes through uncounted.
    ``endpoint``: the client's provider and server address.
    ``ask_stream_usage``: add ``stream_options.include_usage`` to streamed requests of operations that
    need it (``Operation.injects_stream_usage``) when the caller did not decide.
    ``sdk_spans``: the SDK's own per-request spans, to adopt instead of starting a second one.
    """

    package: str
    routes: Routes
    endpoint: Callable[[Any], Endpoint]
    ask_stream_usage: bool = True
    sdk_spans: SdkSpans | None = None


class RequestPipeline:
    """Patches (and unpatches exactly) the request methods of one :class:`GeneratedSDK`'s base client."""

    def __init__(self, sdk: GeneratedSDK) -> None:
        self.sdk = sdk
        self._kinds = ResultKinds(sdk.package)
        self._patched: list[tuple[Any, str]] = []

    def install(self) -> None:
        """Wrap ``SyncAPIClient.request`` and ``AsyncAPIClient.request`` (the SDK is imported by now).

        A client class that has a ``request`` of its own shadows the base class's: another instrumentation
        that patched ``OpenAI.request`` before us (logfire does) would send its requests past our wrapper. So
        such overrides are wrapped too, and we sit above them. A genuine override that calls
        ``super().request()`` then passes two of our wrappers: the inner call takes the request over from the
        outer one (one provider request, counted once, see ``synapsekit.plugin.start_call``).
        """
        base = importlib.import_module(f"{self.sdk.package}._base_client")
        for root, wrapper in (
            (base.SyncAPIClient, self._sync_wrapper()),
            (base.AsyncAPIClient, self._async_wrapper()),
        ):
            for owner in (root, *_overriding_subclasses(root, "request")):
                if wrap_method(owner, "request", wrapper):
                    self._patched.append((owner, "request"))

    def uninstall(self) -> None:
        while self._patched:
            owner, attribute = self._patched.pop()
            unwrap_method(owner, attribute)

    # -- the wrappers -----------------------------------------------------------------------------------------
    # Every request the SDK sends passes through these, LLM call or not. The common path (a resource method's
    # request: route, read the request, start the call, send, record a parsed response) is written out in the
    # wrapper itself rather than through helpers: a Python-level call costs about as much as the reading it
    # would save writing out, and this runs on every request. The two wrappers differ only by their ``await``.
    def _route(
        self, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Operation | None, Any]:
        """The operation and options of a request the exact lookup missed (other spellings, keyword options)."""
        try:
            options = args[1] if len(args) > 1 else kwargs["options"]
            return route(self.sdk.routes, client, options.method, options.url), options
        except Exception as exc:
            report_internal_error(f"{self.sdk.package}.route", exc)
            return None, None

    def _sync_wrapper(self) -> Wrapper:
        sdk, known = self.sdk, self._kinds.known
        routes, endpoint_of, sdk_spans, ask_usage = (
            sdk.routes,
            sdk.endpoint,
            sdk.sdk_spans,
            sdk.ask_stream_usage,
        )
        describe_for_span, finish = self._describe_for_span, self._finish

        def request(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            try:
                options = args[1]
                url, method, body, extra_json = read_options(options.__dict__)
                operation = routes.get((method, url))
            except Exception:
                operation = None
            if operation is None:
                operation, options = self._route(instance, args, kwargs)
                if operation is None:
                    return wrapped(*args, **kwargs)
                url = options.url
                body = extra_json = None  # request_body() reads them below
            try:
                # request_body() in place for the common body: a plain dict and no extra_body.
                if extra_json or type(body) is not dict:
                    body = request_body(options)
                model, max_output_tokens, prompt = operation.describe(body)
                provider, server_address, server_port = endpoint_of(instance)
                if url[:1] != "/" and "://" in url:
                    # An absolute URL goes to its own host, not the base URL's (together 3 and fireworks-ai send
                    # chat completions to one unless the caller set ``base_url``).
                    provider, server_address, server_port = endpoint_of_url(provider, url)
                # ``stream`` is keyword-only in every supported SDK version.
                streamed = kwargs.get("stream") is True
                hide_usage = False
                if streamed and ask_usage and operation.injects_stream_usage:
                    args, kwargs, hide_usage = _asking_for_stream_usage(options, body, args, kwargs)
                wire = sdk_spans is None or not sdk_spans.emits_span(instance, options)
            except Exception as exc:
                report_internal_error(f"{sdk.package}.request:{operation.name}", exc)
                return wrapped(*args, **kwargs)
            # By position (see start_call): a call with keyword arguments is one 3.11 does not specialise.
            call = _start_call(
                provider,
                operation.name,
                model,
                streamed,
                server_address,
                server_port,
                max_output_tokens,
                prompt,
                None,  # attributes
                wire,
            )
            if call.span is not None or not wire or call.capture_content:
                describe_for_span(operation, call, body, wire)
            if sdk_spans is None:
                result = call.send(wrapped, args, kwargs)
            else:
                token = sdk_spans.offer(call)
                try:
                    with call:
                        result = wrapped(*args, **kwargs)
                finally:
                    sdk_spans.withdraw(token)
            # type(), not __class__: an SDK model's attribute read passes pydantic's __getattr__ hook. An object
            # whose __class__ differs from its type (a proxy) misses here and is classified by finish().
            if known.get(type(result)) != PARSED:
                return finish(operation, call, result, hide_usage, options, False)
            # Every non-streamed response: recorded here (what _finish does for a parsed result).
            try:
                operation.record(call, result)
                if call.input_tokens is None:
                    call.estimate_missing_usage()
            except Exception as exc:
                call.finish()
                report_internal_error(f"{sdk.package}.response:{operation.name}", exc)
            call.finish()
            return result

        return request

    def _async_wrapper(self) -> Wrapper:
        sdk, known = self.sdk, self._kinds.known
        routes, endpoint_of, sdk_spans, ask_usage = (
            sdk.routes,
            sdk.endpoint,
            sdk.sdk_spans,
            sdk.ask_stream_usage,
        )
        describe_for_span, finish = self._describe_for_span, self._finish

        async def request(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            try:
                options = args[1]
                url, method, body, extra_json = read_options(options.__dict__)
                operation = routes.get((method, url))
            except Exception:
                operation = None
            if operation is None:
                operation, options = self._route(instance, args, kwargs)
                if operation is None:
                    return await wrapped(*args, **kwargs)
                url = options.url
                body = extra_json = None  # request_body() reads them below
            try:
                if extra_json or type(body) is not dict:
                    body = request_body(options)
                model, max_output_tokens, prompt = operation.describe(body)
                provider, server_address, server_port = endpoint_of(instance)
                if url[:1] != "/" and "://" in url:
                    provider, server_address, server_port = endpoint_of_url(provider, url)
                streamed = kwargs.get("stream") is True
                hide_usage = False
                if streamed and ask_usage and operation.injects_stream_usage:
                    args, kwargs, hide_usage = _asking_for_stream_usage(options, body, args, kwargs)
                wire = sdk_spans is None or not sdk_spans.emits_span(instance, options)
            except Exception as exc:
                report_internal_error(f"{sdk.package}.request:{operation.name}", exc)
                return await wrapped(*args, **kwargs)
            # By position (see start_call): a call with keyword arguments is one 3.11 does not specialise.
            call = _start_call(
                provider,
                operation.name,
                model,
                streamed,
                server_address,
                server_port,
                max_output_tokens,
                prompt,
                None,  # attributes
                wire,
            )
            if call.span is not None or not wire or call.capture_content:
                describe_for_span(operation, call, body, wire)
            if sdk_spans is None:
                result = await call.asend(wrapped, args, kwargs)
            else:
                token = sdk_spans.offer(call)
                try:
                    with call:
                        result = await wrapped(*args, **kwargs)
                finally:
                    sdk_spans.withdraw(token)
            # type(), not __class__: an SDK model's attribute read passes pydantic's __getattr__ hook. An object
            # whose __class__ differs from its type (a proxy) misses here and is classified by finish().
            if known.get(type(result)) != PARSED:
                return finish(operation, call, result, hide_usage, options, True)
            try:
                operation.record(call, result)
                if call.input_tokens is None:
                    call.estimate_missing_usage()
            except Exception as exc:
                call.finish()
                report_internal_error(f"{sdk.package}.response:{operation.name}", exc)
            call.finish()
            return result

        return request

    # -- before the request ---------------------------------------------------------------------------------
    def _describe_for_span(self, operation: Operation, call: LLMCall, body: Any, wire: bool) -> None:
        """The request's parameters only a span shows, and its messages when content is captured.

        Read only when a span records (the accounting path never pays for them); with the SDK's own span to
        adopt (``wire=False``), it will be there once the request is sent.
        """
        span = call.span
        if (span is not None and span.is_recording()) or not wire:
            try:
                call.span_attributes = operation.request_attributes(body)
            except Exception as exc:
                report_internal_error(f"{self.sdk.package}.request_attributes:{operation.name}", exc)
        if call.capture_content:
            try:
                call.input_messages = operation.input_messages(body)
            except Exception as exc:
                report_internal_error(f"{self.sdk.package}.content:{operation.name}", exc)

    # -- after it -------------------------------------------------------------------------------------------
    def _finish(
        self,
        operation: Operation,
        call: LLMCall,
        result: Any,
        hide_usage: bool,
        options: Any,
        is_async: bool,
    ) -> Any:
        """What the caller gets: ``result`` itself, or a stream proxy that ends the call with the stream."""
        try:
            # ResultKinds.of() in place: a dict lookup by class, classified once per class.
            kind = self._kinds.known.get(result.__class__)
            if kind is None:
                kind = self._kinds.of(result)
            # The first response of its class (the wrappers record the later ones in place).
            if kind == PARSED:
                settle(call, operation, result)
                return result
            if kind in (STREAM, ASYNC_STREAM):
                reader = operation.stream_reader(call, result, hide_usage=hide_usage, is_async=is_async)
                if reader.iterator is None:
                    reader.iterator = self._kinds.own_iterator(result, kind == ASYNC_STREAM)
                proxy = AsyncStreamProxy if kind == ASYNC_STREAM else SyncStreamProxy
                return proxy(result, call, reader)
            http = result.http_response if kind == RAW_RESPONSE else result
            streamed = call.streamed
            if not streamed and raw_mode(options) != LAZY_RAW_MODE:
                # with_raw_response / a bare response of a plain request: the SDK read the body already.
                settle_json(call, operation, http.content)
            else:
                read_alongside(
                    http, call, operation, events=streamed, hide_usage=hide_usage, is_async=is_async
                )
        except Exception as exc:
            call.abandon()
            report_internal_error(f"{self.sdk.package}.response:{operation.name}", exc)
        return result


def _asking_for_stream_usage(
    options: Any, body: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any], bool]:
    """``request``'s arguments with a chat stream's usage asked for, and whether the extra chunk is to be hidden."""
    asked = ask_for_stream_usage(options, body)
    if asked is None:  # the caller decided: their stream, as they asked for it
        return args, kwargs, False
    if len(args) > 1:
        return (args[0], asked, *args[2:]), kwargs, True
    return args, {**kwargs, "options": asked}, True


def _overriding_subclasses(root: type[Any], attribute: str) -> list[type[Any]]:
    """Subclasses of ``root`` (at any depth) whose own ``__dict__`` holds ``attribute``."""
    found: list[type[Any]] = []
    pending = list(root.__subclasses__())
    seen: set[type[Any]] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if attribute in vars(cls):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found

"""Reading the request a generated SDK is about to send: its route, its JSON body, its raw-response mode.

Every request reaches the base client's ``request(cast_to, options, *, stream, stream_cls)`` as a
``FinalRequestOptions``: ``method`` and ``url`` (the path, relative to the client's base URL, as the resource
method or ``client.post(...)`` gave it), ``json_data`` (the body, already transformed to plain JSON types),
``extra_json`` (``extra_body``, merged over the body when the request is built) and ``headers`` (the caller's
``extra_headers``, where ``with_raw_response`` / ``with_streaming_response`` leave their mark).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from operator import itemgetter
from typing import Any
from urllib.parse import urlsplit

from ._operation import Operation

RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
# with_streaming_response: the body is left unread for the caller (with_raw_response reads it at once).
LAZY_RAW_MODE = "stream"

Routes = Mapping[tuple[str, str], Operation]

# The four fields every request's wrapper reads, from a ``FinalRequestOptions``' ``__dict__``, at once and in C:
# the options are a pydantic model, and each attribute read on one passes pydantic's ``__getattr__`` hook, which
# Python 3.11 does not specialise (about 500 instructions a read; a dict lookup is a fraction of that). Options
# without them in their ``__dict__`` (a KeyError, or no ``__dict__`` at all) take the wrapper's general route.
read_options = itemgetter("url", "method", "json_data", "extra_json")


def route(routes: Routes, client: Any, method: Any, url: Any) -> Operation | None:
    """The operation a request that missed the exact ``(method, url)`` lookup is, if any.

    Resource methods send the lower-case method and the bare path, which the caller's exact lookup finds; this
    covers the other spellings a ``client.post(...)``/``client.request(...)`` caller may use: an upper-case
    method, a query string (``/v1/messages?beta=true``), a missing leading or a trailing slash, an absolute
    URL under the client's base URL.
    """
    if type(method) is not str or type(url) is not str:
        return None
    if "://" in url:
        path = urlsplit(url).path
        base_path = str(getattr(getattr(client, "base_url", None), "path", "") or "").rstrip("/")
        if base_path:
            if not path.startswith(base_path + "/"):
                return None
            path = path[len(base_path) :]
    else:
        path = url.split("?", 1)[0].split("#", 1)[0]
    path = "/" + path.strip("/")
    return routes.get((method.lower(), path))


def request_body(options: Any) -> Mapping[str, Any]:
    """The JSON object the request sends: its body with ``extra_body`` merged over it (as the SDK does)."""
    body = options.json_data
    extra = options.extra_json
    if extra:
        if isinstance(extra, Mapping):
            return {**body, **extra} if isinstance(body, Mapping) else dict(extra)
        return body if isinstance(body, Mapping) else {}
    if type(body) is dict or isinstance(body, Mapping):
        return body
    return {}


def raw_mode(options: Any) -> str | None:
    """``"true"``/``"raw"`` for ``with_raw_response``, ``"stream"`` for ``with_streaming_response``, else None."""
    headers = options.headers
    if type(headers) is not dict and not isinstance(headers, Mapping):
        return None  # the SDK's NotGiven: no extra headers at all
    mode = headers.get(RAW_RESPONSE_HEADER)
    if mode is None:
        mode = headers.get(RAW_RESPONSE_HEADER.lower())
    return mode if type(mode) is str else None


def ask_for_stream_usage(options: Any, body: Mapping[str, Any]) -> Any:
    """A copy of ``options`` asking a chat stream for its usage chunk; None when the caller already decided.

    ``stream_options`` is set where the caller's own ``stream_options`` would be read from (``extra_body`` wins
    over the body when both have one), keeping the caller's other stream options. The caller's options and
    body are left untouched: a retry or another request may reuse them.
    """
    stream_options = body.get("stream_options")
    if isinstance(stream_options, Mapping):
        if "include_usage" in stream_options:
            return None
        asked = {**stream_options, "include_usage": True}
    else:
        asked = {"include_usage": True}
    extra, json_data = options.extra_json, options.json_data
    if isinstance(extra, Mapping) and "stream_options" in extra:
        return _copy_with(options, "extra_json", {**extra, "stream_options": asked})
    if isinstance(json_data, Mapping):
        return _copy_with(options, "json_data", {**json_data, "stream_options": asked})
    return None  # a body that is not a JSON object is not ours to add to


def _copy_with(options: Any, name: str, value: Any) -> Any:
    """A shallow copy of ``options`` whose field ``name`` is ``value``.

    The model's own ``__copy__`` called directly, and the field written into the copy's ``__dict__``: through
    ``copy.copy`` and pydantic's ``__setattr__`` (its assignment handlers, for a plain field) the same copy
    costs ~3,000 instructions more, on every stream. Anything else — no ``__copy__`` of its own, or a copy
    whose ``__dict__`` is not a fresh dict holding the field — takes ``copy.copy`` and ``setattr``.
    """
    copier = getattr(type(options), "__copy__", None)
    sent = copier(options) if copier is not None else copy.copy(options)
    try:
        fields = sent.__dict__
        if type(fields) is dict and name in fields and fields is not options.__dict__:
            fields[name] = value
            return sent
    except AttributeError:
        pass
    setattr(sent, name, value)
    return sent

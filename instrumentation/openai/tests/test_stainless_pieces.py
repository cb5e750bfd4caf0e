"""The request pipeline's pieces on their own: routes, request bodies, the usage request, SSE splitting."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from openai._models import FinalRequestOptions
from synapsekit_instrumentation_openai.stainless._endpoint import Endpoint, endpoint_of_url
from synapsekit_instrumentation_openai.stainless._request import (
    ask_for_stream_usage,
    raw_mode,
    request_body,
    route,
)
from synapsekit_instrumentation_openai.stainless._results import ResultKinds
from synapsekit_instrumentation_openai.stainless._sse import EventSplitter, event_data

CHAT = object()
ROUTES: Any = {("post", "/chat/completions"): CHAT}
CLIENT = SimpleNamespace(base_url=SimpleNamespace(path="/v1/"))


def options(**fields: Any) -> FinalRequestOptions:
    return FinalRequestOptions.construct(method="post", url="/chat/completions", **fields)


# -- routes -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "url", "found"),
    [
        ("post", "chat/completions", True),
        ("POST", "/chat/completions", True),
        ("post", "/chat/completions?x=1#frag", True),
        ("post", "https://gateway.example/v1/chat/completions?x=1", True),
        ("post", "https://gateway.example/v2/chat/completions", False),  # not under the client's base URL
        ("post", "/chat/completions/abc", False),
        ("get", "/chat/completions", False),
        ("post", "/embeddings", False),
        (None, "/chat/completions", False),
        ("post", b"/chat/completions", False),
    ],
)
def test_route_spellings(method: Any, url: Any, found: bool) -> None:
    assert (route(ROUTES, CLIENT, method, url) is CHAT) is found


def test_absolute_url_with_a_client_without_base_path() -> None:
    assert route(ROUTES, SimpleNamespace(base_url=None), "post", "http://h/chat/completions") is CHAT


# -- request bodies -------------------------------------------------------------------------------------------------
def test_request_body_merges_extra_body_over_the_body() -> None:
    body = request_body(options(json_data={"model": "a", "n": 1}, extra_json={"model": "b", "seed": 2}))
    assert body == {"model": "b", "n": 1, "seed": 2}


@pytest.mark.parametrize(
    ("json_data", "extra_json", "expected"),
    [
        (None, None, {}),
        ([1, 2], None, {}),
        (None, {"model": "b"}, {"model": "b"}),
        ([1, 2], {"model": "b"}, {"model": "b"}),
        ({"model": "a"}, {}, {"model": "a"}),
    ],
)
def test_request_body_of_unusual_bodies(json_data: Any, extra_json: Any, expected: dict[str, Any]) -> None:
    assert request_body(options(json_data=json_data, extra_json=extra_json)) == expected


@pytest.mark.parametrize(
    ("headers", "mode"),
    [
        ({"X-Stainless-Raw-Response": "true"}, "true"),
        ({"x-stainless-raw-response": "stream"}, "stream"),
        ({"X-Stainless-Raw-Response": 1}, None),
        ({}, None),
    ],
)
def test_raw_mode(headers: dict[str, Any], mode: str | None) -> None:
    assert raw_mode(options(headers=headers)) == mode


def test_raw_mode_without_extra_headers() -> None:
    assert raw_mode(options()) is None  # the SDK's NotGiven


# -- asking a stream for its usage ----------------------------------------------------------------------------------
def test_usage_is_asked_for_in_a_copy() -> None:
    body = {"model": "m", "stream": True, "stream_options": {"include_obfuscation": False}}
    sent = ask_for_stream_usage(options(json_data=body), body)
    assert sent.json_data == {**body, "stream_options": {"include_obfuscation": False, "include_usage": True}}
    assert body["stream_options"] == {"include_obfuscation": False}  # the caller's body is untouched


def test_usage_is_asked_for_where_the_callers_stream_options_are() -> None:
    original = options(json_data={"model": "m"}, extra_json={"stream_options": {"x": 1}})
    sent = ask_for_stream_usage(original, request_body(original))
    assert (sent.json_data, sent.extra_json) == (
        {"model": "m"},
        {"stream_options": {"x": 1, "include_usage": True}},
    )
    assert original.extra_json == {"stream_options": {"x": 1}}


def test_the_copy_asking_for_usage_is_a_model_of_its_own() -> None:
    body = {"model": "m", "stream": True}
    original = options(json_data=body, headers={"x": "1"}, max_retries=3)
    before = original.json_data
    sent = ask_for_stream_usage(original, body)
    assert type(sent) is FinalRequestOptions and sent is not original
    assert sent.__dict__ is not original.__dict__
    assert original.json_data is before and before == {"model": "m", "stream": True}
    assert sent.json_data == {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    assert (sent.headers, sent.max_retries, sent.url) == ({"x": "1"}, 3, "/chat/completions")
    assert sent.model_fields_set == original.model_fields_set


class _PlainOptions:
    """Options that are no pydantic model: copied by copy.copy, the field set by setattr."""

    def __init__(self, json_data: Any) -> None:
        self.json_data = json_data
        self.extra_json = None


def test_options_without_a_copy_method_of_their_own_are_copied_too() -> None:
    body = {"model": "m"}
    original = _PlainOptions(body)
    sent = ask_for_stream_usage(original, body)
    assert type(sent) is _PlainOptions and sent is not original
    assert sent.json_data == {"model": "m", "stream_options": {"include_usage": True}}
    assert original.json_data is body and body == {"model": "m"}


class _SharedCopy(_PlainOptions):
    """A ``__copy__`` whose copy shares the original's ``__dict__``, and a ``__setattr__`` that is watched."""

    set_through_setattr: list[str] = []  # noqa: RUF012  (the test's own record)

    def __copy__(self) -> _SharedCopy:
        twin = _SharedCopy.__new__(_SharedCopy)
        object.__setattr__(twin, "__dict__", self.__dict__)
        return twin

    def __setattr__(self, name: str, value: Any) -> None:
        _SharedCopy.set_through_setattr.append(name)
        object.__setattr__(self, name, value)


def test_a_copy_sharing_the_originals_fields_is_set_through_setattr() -> None:
    original = _SharedCopy({"model": "m"})
    _SharedCopy.set_through_setattr.clear()
    sent = ask_for_stream_usage(original, original.json_data)
    # Not written into the dict it shares with the original behind the model's back: the model's own setattr.
    assert _SharedCopy.set_through_setattr == ["json_data"]
    assert sent.json_data == {"model": "m", "stream_options": {"include_usage": True}}


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_callers_decision_is_kept(include_usage: bool) -> None:
    body = {"stream_options": {"include_usage": include_usage}}
    assert ask_for_stream_usage(options(json_data=body), body) is None


def test_a_body_that_is_not_an_object_is_not_added_to() -> None:
    assert ask_for_stream_usage(options(json_data=["not", "an", "object"]), {}) is None


# -- server-sent events -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_events_are_cut_whole_whatever_the_line_ends(end: bytes) -> None:
    stream = (
        b"data: one" + end + end + b": keep-alive" + end + end + b"event: x" + end + b"data: two" + end + end
    )
    for size in (1, 2, 3, 7, len(stream)):
        splitter = EventSplitter()
        events: list[bytes] = []
        for start in range(0, len(stream), size):
            events.extend(splitter.feed(stream[start : start + size]))
        events.append(splitter.flush())
        assert b"".join(events) == stream  # every byte handed back once, in order
        data = [event_data(event) for event in events if event]
        assert [value for value in data if value is not None] == ["one", "two"], size


def test_an_unterminated_last_event_is_flushed() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"data: a\n\ndata: b") == [b"data: a\n\n"]
    assert splitter.flush() == b"data: b"
    assert splitter.flush() == b""


def test_event_data_joins_data_lines_and_ignores_the_rest() -> None:
    assert event_data(b'event: e\nid: 3\ndata: {"a":\ndata:1}\n: comment\n\n') == '{"a":\n1}'
    assert event_data(b": only a comment\n\n") is None
    assert event_data("data: \u00e9\n\n".encode()) == "\u00e9"


# -- endpoints ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        (
            "https://api-inference.together.ai/v1/chat/completions",
            Endpoint("p", "api-inference.together.ai", 443),
        ),
        ("http://127.0.0.1:8080/v1/chat/completions?x=1", Endpoint("p", "127.0.0.1", 8080)),
        ("http://[::1]/chat", Endpoint("p", "::1", 80)),
    ],
)
def test_an_absolute_url_has_its_own_endpoint(url: str, endpoint: Endpoint) -> None:
    assert endpoint_of_url("p", url) == endpoint


class _RelayingStream:
    """Iterates as the generated SDKs' ``Stream`` does: only hands on ``self._iterator``."""

    def __init__(self, items: list[int]) -> None:
        self._iterator = iter(items)

    def __iter__(self) -> Iterator[int]:
        for item in self._iterator:  # noqa: UP028
            yield item


class _ObservedStream(_RelayingStream):
    """Does something per item (as anthropic's stream tells its observer): never bypassed."""

    def __init__(self, items: list[int]) -> None:
        super().__init__(items)
        self.seen: list[int] = []

    def __iter__(self) -> Iterator[int]:
        for item in self._iterator:
            self.seen.append(item)
            yield item


def test_a_stream_is_drawn_from_directly_only_when_its_iteration_is_a_plain_relay() -> None:
    kinds = ResultKinds("openai")
    relaying, observed = _RelayingStream([1, 2]), _ObservedStream([1, 2])
    assert kinds.own_iterator(relaying, False) is relaying._iterator
    assert kinds.own_iterator(observed, False) is None
    assert kinds.own_iterator(relaying, True) is None  # no __aiter__ at all
    assert kinds.own_iterator(object(), False) is None

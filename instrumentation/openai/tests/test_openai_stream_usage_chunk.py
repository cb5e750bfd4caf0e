"""The injected usage-only chunk is read from the event text and never parsed by the SDK; every other event
(and every SDK that does not read events through ``_iter_events``) takes the ordinary path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from openai._streaming import ServerSentEvent
from openai.types.chat import ChatCompletionMessageParam
from synapsekit_instrumentation_openai import _chat, _chat_usage

from conftest import RecordingSink, httpx_module
from synapsekit import ImplausibleUsageWarning
from synapsekit._core import call as call_module
from synapsekit._core.errors import set_strict
from synapsekit.plugin import start_call

pytestmark = pytest.mark.usefixtures("instrumented")

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello to the world"}]
USAGE_CHUNK = (
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[],"usage":{"prompt_tokens":31,"completion_tokens":9,"total_tokens":40,'
    '"prompt_tokens_details":{"cached_tokens":16},"completion_tokens_details":{"reasoning_tokens":4}}}'
)
CONTENT_CHUNK = (
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[{"index":0,"delta":{"content":"\\"choices\\":[]"},"finish_reason":null}],"usage":null}'
)


def _count_parsed(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every payload the SDK turns into a model, in order."""
    parsed: list[Any] = []
    original = client._process_response_data

    def counting(*, data: Any, **kwargs: Any) -> Any:
        parsed.append(data)
        return original(data=data, **kwargs)

    monkeypatch.setattr(client, "_process_response_data", counting)
    return parsed


def test_sync_usage_chunk_is_never_parsed_by_the_sdk(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = _count_parsed(client, monkeypatch)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    # role chunk + 12 words + finish chunk reach the SDK's parser; the usage chunk does not.
    assert len(parsed) == len(chunks) == 14
    assert all(payload["choices"] for payload in parsed)
    call = sink.only
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (5, 12, False)
    assert call.response_id is not None and call.response_id.startswith("chatcmpl-")
    assert call.finish_reasons == ("stop",)


async def test_async_usage_chunk_is_never_parsed_by_the_sdk(
    async_client: openai.AsyncOpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = _count_parsed(async_client, monkeypatch)
    stream = await async_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, max_tokens=4
    )
    chunks = [chunk async for chunk in stream]
    assert len(parsed) == len(chunks) == 6
    assert (sink.only.input_tokens, sink.only.output_tokens, sink.only.finish_reasons) == (5, 4, ("length",))


def test_callers_own_usage_chunk_is_parsed_and_delivered(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = _count_parsed(client, monkeypatch)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len(parsed) == len(chunks) == 15
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert (sink.only.input_tokens, sink.only.output_tokens) == (5, 12)


def test_without_the_event_filter_the_parsed_usage_chunk_is_hidden(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SDK that does not read through ``_iter_events``: the proxy reads the parsed chunk and hides it."""
    monkeypatch.setattr(_chat, "read_usage_chunk_as_text", lambda *args, **kwargs: None)
    parsed = _count_parsed(client, monkeypatch)
    headers = {"x-test-cached-tokens": "3", "x-test-reasoning-tokens": "2"}
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers=headers
        )
    )
    assert (len(parsed), len(chunks)) == (15, 14)
    call = sink.only
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        5,
        3,
        12,
        2,
    )


def test_text_path_counts_cached_and_reasoning_tokens(client: openai.OpenAI, sink: RecordingSink) -> None:
    headers = {"x-test-cached-tokens": "3", "x-test-reasoning-tokens": "2"}
    list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers=headers
        )
    )
    call = sink.only
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        5,
        3,
        12,
        2,
    )


# The filter on hand-made events: what is taken, what passes through untouched.


def _filtered(events: list[ServerSentEvent]) -> tuple[list[ServerSentEvent], Any]:
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    passed = list(_chat_usage._sync_filter(lambda: iter(events), call)())
    call.finish()
    return passed, call


def test_usage_only_chunk_is_taken_and_recorded() -> None:
    content = ServerSentEvent(data=CONTENT_CHUNK)
    passed, call = _filtered([content, ServerSentEvent(data=USAGE_CHUNK), ServerSentEvent(data="[DONE]")])
    assert [event.data for event in passed] == [CONTENT_CHUNK, "[DONE]"]
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        31,
        16,
        9,
        4,
    )
    assert (call.response_id, call.response_model) == ("chatcmpl-1", "gpt-4o-mini-2024-07-18")


def test_spaced_usage_only_chunk_is_taken() -> None:
    spaced = '{"id": "c", "model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}}'
    passed, call = _filtered([ServerSentEvent(data=spaced)])
    assert passed == []
    assert (call.input_tokens, call.output_tokens) == (2, 3)


def test_spaced_stream_after_its_content_chunks_is_taken_and_compact_text_in_content_is_not() -> None:
    """The spelling is the stream's (decided by its first event): a spaced server's usage chunk is found after its
    content, and the compact spelling appearing inside a spaced stream's content is not the usage chunk."""
    first = '{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}], "usage": null}'
    tricky = '{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "\\"choices\\":[]"}}]}'
    usage = '{"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}}'
    events = [ServerSentEvent(data=first), ServerSentEvent(data=tricky), ServerSentEvent(data=usage)]
    passed, call = _filtered(events)
    assert [event.data for event in passed] == [first, tricky]
    assert (call.input_tokens, call.output_tokens) == (2, 3)


def test_a_compact_stream_whose_usage_chunk_is_spaced_passes_it_to_the_sdk_path() -> None:
    """Mixed spellings in one stream (no known server): the text test misses, the event reaches the SDK untouched
    (the proxy then reads and hides the parsed chunk, tests above), nothing is recorded twice."""
    usage = '{"id": "c", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}}'
    events = [ServerSentEvent(data=CONTENT_CHUNK), ServerSentEvent(data=usage)]
    passed, call = _filtered(events)
    assert [event.data for event in passed] == [CONTENT_CHUNK, usage]
    assert call.input_tokens is None


def test_counts_that_are_not_ints_are_left_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_module, "_usage_warned", set())  # warned once per process: not by another test
    data = (
        '{"id":"c","choices":[],"usage":{"prompt_tokens":"31","completion_tokens":9,'
        '"prompt_tokens_details":{"cached_tokens":"16","cache_write_tokens":2.5},'
        '"completion_tokens_details":{"reasoning_tokens":null}}}'
    )
    with pytest.warns(ImplausibleUsageWarning) as warned:
        passed, call = _filtered([ServerSentEvent(data=data)])
    assert passed == []
    # The string prompt count is not trusted; with no prompt text to estimate from, it stays unknown.
    assert call.input_tokens is None
    assert (call.output_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (9, 0, 0)
    assert call.reasoning_tokens == 0
    # Said, not silently dropped: the call is marked and each broken field named (a null is just absent).
    assert call.usage_implausible
    assert sorted(str(w.message).split(" reported ")[1].split("=")[0] for w in warned) == [
        "cache_creation_input_tokens",
        "cached_input_tokens",
        "input_tokens",
    ]


@pytest.mark.parametrize(
    "data",
    [
        '{"id":"c","choices":[],"usage":null,"prompt_filter_results":[]}',  # Azure's filter results chunk
        '{"id":"c","choices":[],"usage":{"prompt_tokens":2},"error":{"message":"boom"}}',  # the SDK raises it
        '{"choices":[],"usage":',  # malformed: the SDK raises on it as it would uninstrumented
        '["choices":[]]',
        '{"id":"c","choices":[],"usage":[1,2]}',
        # The key's text inside a string (escaped there) before the real, non-empty choices.
        '{"id":"\\"choices\\":[]","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":{"prompt_tokens":2}}',
        '{"id":"c","choices":  [],"usage":{"prompt_tokens":2}}',  # spelled otherwise: the SDK path reads it
    ],
    ids=[
        "usage-null",
        "error",
        "malformed",
        "not-an-object",
        "usage-not-an-object",
        "key-text-in-content",
        "other-spelling",
    ],
)
def test_other_events_pass_through_untouched(data: str) -> None:
    event = ServerSentEvent(data=data)
    passed, call = _filtered([event])
    assert passed == [event]
    assert (call.input_tokens, call.response_id) == (None, None)


@pytest.mark.parametrize(
    "data",
    [
        '{"a": 1}',
        ' {"a":1}',  # whitespace around the value: json.loads' own handling
        '{"a":1} ',
        '{"a":1}x',  # more after the value
        '{"a":1}{"b":2}',
        "",
        "nan",
        "NaN",
        "[1,2]",
        '"x"',
        '{"a":',
        "1e5",
        "null",
        '{"a":"\\u00e9\\n"}',
    ],
)
def test_event_data_is_parsed_exactly_as_json_loads_would(data: str) -> None:
    """The usage take's direct call of the JSON scanner: the same value, or the same error, as json.loads."""
    try:
        expected: Any = ("value", json.loads(data))
    except ValueError as exc:
        expected = ("error", type(exc), str(exc))
    try:
        got: Any = ("value", _chat_usage._parse_json(data))
    except ValueError as exc:
        got = ("error", type(exc), str(exc))
    if expected[0] == "value" and expected[1] != expected[1]:  # NaN: equal only as text
        assert (got[0], repr(got[1])) == ("value", "nan")
    else:
        assert got == expected


def test_named_events_pass_through() -> None:
    event = ServerSentEvent(event="thread.message.delta", data=USAGE_CHUNK)
    passed, call = _filtered([event])
    assert passed == [event]
    assert call.input_tokens is None


def test_events_shaped_otherwise_pass_through() -> None:
    """An SDK whose events keep their text elsewhere: nothing is taken, the proxy path reads every chunk."""
    event = SimpleNamespace(event=None, data=USAGE_CHUNK)
    passed, call = _filtered([event])  # type: ignore[list-item]
    assert passed == [event]
    assert call.input_tokens is None


def test_response_id_already_known_is_kept() -> None:
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    call.record_response(model="gpt-4o", response_id="first-id")
    assert list(_chat_usage._sync_filter(lambda: iter([ServerSentEvent(data=USAGE_CHUNK)]), call)()) == []
    call.finish()
    assert (call.response_id, call.response_model, call.output_tokens) == ("first-id", "gpt-4o", 9)


def test_our_failure_is_reported_and_the_event_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(call: Any, usage: Any) -> None:
        raise RuntimeError("usage reader bug")

    monkeypatch.setattr(_chat_usage, "record_chat_usage", explode)
    event = ServerSentEvent(data=USAGE_CHUNK)
    set_strict(False)
    passed, _ = _filtered([event])
    assert passed == [event]
    set_strict(True)
    with pytest.raises(RuntimeError, match="usage reader bug"):
        _filtered([event])


async def test_async_filter_takes_the_usage_chunk() -> None:
    events = [ServerSentEvent(data=CONTENT_CHUNK), ServerSentEvent(data=USAGE_CHUNK)]

    async def source() -> AsyncIterator[ServerSentEvent]:
        for event in events:
            yield event

    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    passed = [event async for event in _chat_usage._async_filter(source, call)()]
    call.finish()
    assert passed == events[:1]
    assert (call.input_tokens, call.output_tokens) == (31, 9)


def test_stream_without_an_event_source_is_left_alone() -> None:
    class NotAnSdkStream:
        def __iter__(self) -> Iterator[int]:
            return iter([1])

    stream = NotAnSdkStream()
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    _chat_usage.read_usage_chunk_as_text(stream, call, is_async=False)
    call.finish()
    assert vars(stream) == {}


def test_usage_details_of_an_older_model_without_cache_write_tokens_are_read() -> None:
    """openai 2.0's prompt-token details have no ``cache_write_tokens``: the cached count is read all the same."""
    usage = SimpleNamespace(
        prompt_tokens=40,
        completion_tokens=7,
        prompt_tokens_details=SimpleNamespace(cached_tokens=16),
        completion_tokens_details=SimpleNamespace(reasoning_tokens=3),
    )
    call = start_call("openai", "chat", "gpt-4o-mini")
    _chat_usage.record_chat_usage(call, usage)
    call.finish()
    assert (call.input_tokens, call.output_tokens, call.cached_input_tokens) == (40, 7, 16)
    assert (call.cache_creation_input_tokens, call.reasoning_tokens, call.usage_implausible) == (0, 3, False)


# The filter on the bytes the SDK's decoder reads (every generated SDK's stream has a decoder of its own).


def _bytes_filtered(reads: list[bytes]) -> tuple[bytes, Any]:
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    passed = b"".join(_chat_usage._sync_bytes_filter(iter(reads), call))
    call.finish()
    return passed, call


CONTENT_EVENT = f"data: {CONTENT_CHUNK}\n\n".encode()
USAGE_EVENT = f"data: {USAGE_CHUNK}\n\n".encode()
DONE_EVENT = b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    "reads",
    [
        [CONTENT_EVENT + USAGE_EVENT + DONE_EVENT],
        [CONTENT_EVENT, USAGE_EVENT, DONE_EVENT],
        [CONTENT_EVENT, USAGE_EVENT + DONE_EVENT],
        [(CONTENT_EVENT + USAGE_EVENT + DONE_EVENT).replace(b"\n", b"\r\n")],
    ],
    ids=["one-read", "a-read-per-event", "usage-and-done", "crlf"],
)
def test_usage_event_whole_in_a_read_is_taken_from_the_bytes(reads: list[bytes]) -> None:
    passed, call = _bytes_filtered(reads)
    crlf = b"\r\n" in reads[0]
    expected = CONTENT_EVENT + DONE_EVENT
    assert passed == (expected.replace(b"\n", b"\r\n") if crlf else expected)
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        31,
        16,
        9,
        4,
    )
    assert (call.response_id, call.response_model) == ("chatcmpl-1", "gpt-4o-mini-2024-07-18")


@pytest.mark.parametrize(
    "reads",
    [
        [CONTENT_EVENT + USAGE_EVENT[:40], USAGE_EVENT[40:] + DONE_EVENT],  # cut across reads
        [CONTENT_EVENT + USAGE_EVENT[:-1], USAGE_EVENT[-1:] + DONE_EVENT],  # blank line not there yet
        [CONTENT_EVENT[:-1], CONTENT_EVENT[-1:] + USAGE_EVENT],  # read starts inside an event
        [b"id: 7\n" + USAGE_EVENT],  # a field the decoder keeps
        [b"event: usage\n" + USAGE_EVENT],
        [b"data: " + USAGE_CHUNK.encode() + b"\r" + USAGE_EVENT[5:]],  # a lone CR ends a line
        [USAGE_EVENT.replace(b"\n\n", b"\r\r")],  # line ends not taken
        [USAGE_EVENT.replace(b'"prompt_tokens":31', b'"prompt_tokens":"\xff"')],  # not UTF-8
        [f'data: {"{"}"choices":[],"usage":null{"}"}\n\n'.encode()],  # no usage in it
    ],
    ids=[
        "cut",
        "no-blank-line-yet",
        "mid-event",
        "id",
        "event",
        "lone-cr",
        "cr-only",
        "not-utf8",
        "usage-null",
    ],
)
def test_other_shapes_pass_to_the_sdk_byte_for_byte(reads: list[bytes]) -> None:
    passed, call = _bytes_filtered(reads)
    assert passed == b"".join(reads)
    assert call.input_tokens is None


def test_bytes_filter_failure_is_reported_and_the_bytes_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(call: Any, usage: Any) -> None:
        raise RuntimeError("usage reader bug")

    monkeypatch.setattr(_chat_usage, "record_chat_usage", explode)
    set_strict(False)
    passed, _ = _bytes_filtered([USAGE_EVENT])
    assert passed == USAGE_EVENT
    set_strict(True)
    with pytest.raises(RuntimeError, match="usage reader bug"):
        _bytes_filtered([USAGE_EVENT])


def _body_in_reads(size: int) -> bytes:
    events = [
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "usage": None,
            "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
        }
        for word in ("Hello", " there", ",", " world")
    ]
    events[-1]["choices"][0]["finish_reason"] = "stop"  # type: ignore[index]
    usage = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
    }
    text = "".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in [*events, usage])
    return (text + "data: [DONE]\n\n").encode()


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_whatever_the_reads_the_caller_sees_the_same_chunks_and_exact_counts(
    size: int, sink: RecordingSink
) -> None:
    """Reads of any size: the usage chunk is taken from the bytes or, cut across reads, hidden by the proxy."""
    httpx = httpx_module()
    body = _body_in_reads(size)

    def answer(request: Any) -> Any:
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces))

    client = openai.OpenAI(
        api_key="k",
        base_url="http://test.invalid/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    texts = [chunk.choices[0].delta.content for chunk in stream]
    assert texts == ["Hello", " there", ",", " world"]
    call = sink.only
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.chunks) == (7, 4, False, 4)
    assert call.finish_reasons == ("stop",)


async def test_async_bytes_filter_takes_the_usage_event() -> None:
    async def reads() -> AsyncIterator[bytes]:
        for data in (CONTENT_EVENT, USAGE_EVENT + DONE_EVENT):
            yield data

    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    passed = b"".join([data async for data in _chat_usage._async_bytes_filter(reads(), call)])
    call.finish()
    assert passed == CONTENT_EVENT + DONE_EVENT
    assert (call.input_tokens, call.output_tokens, call.response_id) == (31, 9, "chatcmpl-1")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_an_sdk_stream_is_filtered_at_its_bytes_and_one_without_a_decoder_at_its_events(
    is_async: bool,
) -> None:
    class Decoder:
        def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[Any]:
            return iter(())

        async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[Any]:
            for _ in ():
                yield _

    class SdkStream:
        def __init__(self, decoder: Any) -> None:
            self._decoder = decoder

        def _iter_events(self) -> Iterator[Any]:
            return iter(())

    decoder = Decoder()
    with_decoder, without_decoder = SdkStream(decoder), SdkStream(None)
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    _chat_usage.read_usage_chunk_as_text(with_decoder, call, is_async=is_async)
    _chat_usage.read_usage_chunk_as_text(without_decoder, call, is_async=is_async)
    call.finish()
    assert type(with_decoder._decoder) is _chat_usage._UsageTakingDecoder
    assert with_decoder._decoder._decoder is decoder
    assert sorted(vars(with_decoder)) == ["_decoder"]  # the events are the SDK's own
    assert sorted(vars(without_decoder)) == ["_decoder", "_iter_events"]


def test_the_sdk_stream_decodes_no_usage_event(client: openai.OpenAI, sink: RecordingSink) -> None:
    """The usage event is taken before the SDK's decoder: every event it decodes is one the caller reads."""
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    sdk_stream = stream.__wrapped__
    decoded: list[str] = []
    own_decoder = sdk_stream._decoder._decoder

    class Watching:
        def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[Any]:
            for sse in own_decoder.iter_bytes(iterator):
                decoded.append(sse.data)
                yield sse

    sdk_stream._decoder._decoder = Watching()
    chunks = list(stream)
    assert len(chunks) == 14
    assert decoded[-1] == "[DONE]"
    assert len(decoded) == 15 and not any('"choices":[]' in data for data in decoded)
    assert (sink.only.input_tokens, sink.only.output_tokens, sink.only.usage_estimated) == (5, 12, False)


SPACED_CONTENT_EVENT = CONTENT_EVENT.replace(b'"choices":', b'"choices": ')
SPACED_USAGE_EVENT = USAGE_EVENT.replace(b'"choices":', b'"choices": ')
NOTICE_EVENT = (
    b'data: {"id":"","object":"","created":0,"model":"","choices":[],"prompt_filter_results":[]}\n\n'
)


@pytest.mark.parametrize(
    ("reads", "expected", "taken"),
    [
        # The spelling is decided at the first read that shows a choices key.
        ([SPACED_CONTENT_EVENT + SPACED_USAGE_EVENT + DONE_EVENT], SPACED_CONTENT_EVENT + DONE_EVENT, True),
        ([b": ping\n\n", SPACED_CONTENT_EVENT, SPACED_USAGE_EVENT, DONE_EVENT], None, True),
        # A stream written compact whose usage chunk is spaced: passed to the SDK (the proxy hides it).
        ([CONTENT_EVENT, SPACED_USAGE_EVENT + DONE_EVENT], None, False),
        # An empty-choices notice first (Azure's prompt filter results) and the usage chunk last, in one read.
        (
            [NOTICE_EVENT + CONTENT_EVENT + USAGE_EVENT + DONE_EVENT],
            NOTICE_EVENT + CONTENT_EVENT + DONE_EVENT,
            True,
        ),
        # The usage event first in a read, then last: the bytes before and after it are handed on.
        ([CONTENT_EVENT, USAGE_EVENT + DONE_EVENT], CONTENT_EVENT + DONE_EVENT, True),
        ([CONTENT_EVENT + USAGE_EVENT], CONTENT_EVENT, True),
        ([USAGE_EVENT], b"", True),
    ],
    ids=[
        "spaced",
        "decided-later",
        "spelled-otherwise",
        "notice-first",
        "usage-first",
        "usage-last",
        "usage-alone",
    ],
)
def test_the_usage_event_is_looked_for_as_the_stream_spells_it(
    reads: list[bytes], expected: bytes | None, taken: bool
) -> None:
    passed, call = _bytes_filtered(reads)
    if expected is None:
        expected = b"".join(reads).replace(SPACED_USAGE_EVENT, b"") if taken else b"".join(reads)
    assert passed == expected
    assert (call.input_tokens, call.output_tokens) == ((31, 9) if taken else (None, None))


def test_a_taken_usage_event_leaves_the_bytes_around_it_as_two_reads() -> None:
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    reads = list(_chat_usage._sync_bytes_filter(iter([CONTENT_EVENT + USAGE_EVENT + DONE_EVENT]), call))
    call.finish()
    assert reads == [CONTENT_EVENT, DONE_EVENT]

"""A chat call's token usage, and the usage-only chunk we ask a stream for, taken before the SDK parses it.

When the caller left ``stream_options.include_usage`` out, we ask for it (exact counts for the stream) and
hide the extra chunk from them. Left alone, the SDK builds a pydantic model from that chunk like from every
other — by far the costliest step per chunk — only for the proxy to drop it. So the chunk is taken out
before the SDK decodes it: from the bytes its event decoder reads when the stream has a decoder of its own
(``_decoder``: every generated SDK's stream; no step of ours per event), else from the server-sent events
its ``_iter_events`` yields (one generator step per event). Either way a candidate whose text shows empty
``choices`` is parsed with ``json.loads``; when it is the usage-only chunk, its usage is recorded and the SDK
never sees it.

Everything else takes the ordinary path, and so does every chunk when the SDK reads its events neither way
(the replacement is then simply never called): the proxy reads the parsed usage chunk and hides it, as
before. A failure of ours here is reported and the bytes or the event pass through unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from synapsekit.plugin import report_internal_error

from ._fields import fields

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall

_ERROR_KEY = "openai.stream_usage_chunk"


_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
# An SDK model's fields read from its __dict__, all at once and in C (an attribute read on a pydantic model
# passes pydantic's __getattr__ hook, which 3.11 does not specialise); fields() is the fallback for objects
# without them in their __dict__.
_usage_items = itemgetter(*_USAGE_FIELDS)
_PROMPT_DETAILS_FIELDS = ("cached_tokens", "cache_write_tokens")
_prompt_details_items = itemgetter(*_PROMPT_DETAILS_FIELDS)


def record_chat_usage(call: LLMCall, usage: Any) -> None:
    """Record a ``usage`` object: an SDK model (completion, parsed chunk) or the plain dict of a raw chunk."""
    if type(usage) is dict:
        # A raw body's usage (and the usage-only chunk taken from a stream's bytes): read in C.
        prompt_tokens, completion_tokens, prompt_details, completion_details = map(usage.get, _USAGE_FIELDS)
    else:
        try:
            prompt_tokens, completion_tokens, prompt_details, completion_details = _usage_items(
                usage.__dict__
            )
        except (AttributeError, KeyError, TypeError):
            prompt_tokens, completion_tokens, prompt_details, completion_details = fields(
                usage, *_USAGE_FIELDS
            )
    # The details of an SDK model read with getattr in place rather than through fields(): this runs on
    # every response. The counts go to record_usage as read: it checks their types itself, and one that is not
    # an int (a broken proxy) marks the call's usage implausible rather than silently missing.
    cached_tokens = cache_write_tokens = reasoning_tokens = None
    if type(prompt_details) is dict:
        cached_tokens, cache_write_tokens = map(prompt_details.get, _PROMPT_DETAILS_FIELDS)
    elif prompt_details is not None:
        try:
            cached_tokens, cache_write_tokens = _prompt_details_items(prompt_details.__dict__)
        except (AttributeError, KeyError, TypeError):
            # cache_write_tokens is absent from older SDKs' models (openai 2.0): None then.
            cached_tokens = getattr(prompt_details, "cached_tokens", None)
            cache_write_tokens = getattr(prompt_details, "cache_write_tokens", None)
    if type(completion_details) is dict:
        reasoning_tokens = completion_details.get("reasoning_tokens")
    elif completion_details is not None:
        reasoning_tokens = getattr(completion_details, "reasoning_tokens", None)
    # By position (input, output, cached input, cache creation, reasoning): a call with keyword arguments is
    # one Python 3.11 does not specialise, and this runs on every response.
    call.record_usage(prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens)


def _take_usage(call: LLMCall, sse: Any) -> bool:
    """Record the usage of a usage-only chunk; True when ``sse`` was one (and must not reach the SDK)."""
    if sse.event:
        return False
    return _take_usage_data(call, sse.data)


# The JSON decoder's own scanner, called directly: json.loads reaches it through three Python frames and two
# regular-expression matches for surrounding whitespace, which the event's data, as a server writes it, has none of.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__, untyped


def _parse_json(data: str) -> Any:
    """``json.loads(data)``, exactly (the same value, the same ``ValueError``s), for one event's data."""
    try:
        value, end = _scan_json(data, 0)
    except (StopIteration, ValueError):
        value, end = None, -1
    # Anything but a whole value from the first character to the last (whitespace around it, more after it,
    # nothing valid at all) is json.loads' to decide.
    return value if end == len(data) else json.loads(data)


def _take_usage_data(call: LLMCall, data: str) -> bool:
    """Record the usage of a usage-only chunk's ``data``; True when it was one."""
    try:
        payload = _parse_json(data)
    except ValueError:
        return False  # not ours to judge: the SDK raises on it exactly as it would uninstrumented
    if type(payload) is not dict or payload.get("choices") != [] or "error" in payload:
        return False
    usage = payload.get("usage")
    if type(usage) is not dict:
        return False
    if call.response_id is None:
        model, response_id = payload.get("model"), payload.get("id")
        call.record_response(
            model=model if type(model) is str else None,
            response_id=response_id if type(response_id) is str else None,
        )
    record_chat_usage(call, usage)
    return True


def _taken(call: LLMCall, sse: Any) -> bool:
    try:
        return _take_usage(call, sse)
    except Exception as exc:
        report_internal_error(_ERROR_KEY, exc)
        return False


# Every chunk passes the filters below, so they test the text first, inline: json.loads on each would cost
# what the SDK's own parsing does, and a helper call per chunk adds up. Both spellings occur (compact JSON from
# OpenAI, spaced from some compatible servers); a server writes all of a stream's events one way, so the
# spelling is decided once, on the first event, and each later event costs one search rather than two (~550
# instructions each on a typical chunk; ``str.find``/``startswith`` would parse their arguments for as much).
# A chunk spelled otherwise simply takes the SDK path, and whatever the text test lets through is parsed and
# checked exactly. The text is read from the event's ``_data`` slot rather than its ``data`` property (a Python
# call per chunk); should an SDK name it otherwise, getattr answers None and every chunk takes the SDK path.
_COMPACT, _SPACED = '"choices":[]', '"choices": []'


def _empty_choices_spelling(data: str) -> str:
    """The usage-only chunk's ``choices`` as the stream whose first event is ``data`` would write it."""
    return _SPACED if '"choices": ' in data else _COMPACT


def _sync_filter(source: Callable[[], Iterator[Any]], call: LLMCall) -> Callable[[], Iterator[Any]]:
    def events() -> Iterator[Any]:
        empty_choices = None
        for sse in source():
            data = getattr(sse, "_data", None)
            if type(data) is str:
                if empty_choices is None:
                    empty_choices = _empty_choices_spelling(data)
                if empty_choices in data and _taken(call, sse):
                    continue
            yield sse

    return events


def _async_filter(
    source: Callable[[], AsyncIterator[Any]], call: LLMCall
) -> Callable[[], AsyncIterator[Any]]:
    async def events() -> AsyncIterator[Any]:
        empty_choices = None
        async for sse in source():
            data = getattr(sse, "_data", None)
            if type(data) is str:
                if empty_choices is None:
                    empty_choices = _empty_choices_spelling(data)
                if empty_choices in data and _taken(call, sse):
                    continue
            yield sse

    return events


# The same filter one level down, on the bytes the SDK's event decoder reads: a read that does not show the
# marker (every read but the one carrying the usage chunk) is handed on untouched after one C-level search,
# so the events themselves pass with no step of ours at all, and the SDK never decodes the usage event either.
# Only the plain shape is taken — one ``data:`` line, starting a read that starts an event or right after a
# blank line, ended by a blank line, all within one read, lines ended by ``\n`` or ``\r\n`` — and anything
# else passes on to the SDK, whose parsed chunk the proxy hides (the fallback path). An event with an ``id:``,
# ``retry:`` or ``event:`` field is never dropped: that would change the decoder's state for the events after.
#
# The spelling is decided once per stream, at the first ``"choices":`` key (as the event filter does), and
# each read is searched from its end: the usage chunk is a stream's last event before ``[DONE]``, so a read
# holding many events (a short answer arrives in one) is not scanned whole, and the last marker is the one
# looked at (a compatible server's empty-choices notice, if any, comes first). The event is cut out by handing
# the decoder the bytes before and after it as two reads (the decoder splits lines anyway), not by joining
# them: a copy of a long read less.
_MARKERS = (b'"choices":[]', b'"choices": []')
_CHOICES_KEY = b'"choices":'
# What the bytes before an event's first line end with: a blank line (both spellings taken).
_BLANK_LINE = (b"\n\n", b"\r\n\r\n")


def _marker_of(data: bytes) -> bytes:
    """The usage-only chunk's empty ``choices`` as written by the stream whose read is ``data``; b"" when the
    read shows no ``choices`` key (a later read decides)."""
    key = data.find(_CHOICES_KEY)
    if key < 0:
        return b""
    return _MARKERS[1] if data.startswith(b" ", key + len(_CHOICES_KEY)) else _MARKERS[0]


def _usage_event_at(
    data: bytes, position: int, at_event_start: bool, call: LLMCall
) -> tuple[int, int] | None:
    """Where the usage-only event with a marker at ``position`` of ``data`` (one read) starts and ends, once
    its usage is recorded; None when the event there is not one, or not wholly in this read."""
    start = data.rfind(b"\n", 0, position) + 1
    if not (at_event_start if start == 0 else data.endswith(_BLANK_LINE, 0, start)):
        return None
    newline = data.find(b"\n", position)
    if newline < 0:
        return None
    if data[newline - 1] == 13:  # ``\r\n`` line ends: a ``\r\n`` blank line must follow
        line_end, blank = newline - 1, b"\r\n"
    else:
        line_end, blank = newline, b"\n"
    if not data.startswith(blank, newline + 1):
        return None
    line = data[start:line_end]
    if not line.startswith(b"data:") or b"\r" in line:
        return None
    value = line[6:] if line.startswith(b"data: ") else line[5:]
    try:
        taken = _take_usage_data(call, value.decode("utf-8"))
    except UnicodeDecodeError:
        return None  # the SDK raises on it, as it would uninstrumented
    except Exception as exc:
        report_internal_error(_ERROR_KEY, exc)
        return None
    return (start, newline + 1 + len(blank)) if taken else None


def _sync_bytes_filter(reads: Iterator[bytes], call: LLMCall) -> Iterator[bytes]:
    at_event_start = True
    marker = b""
    for data in reads:
        if not marker:
            marker = _marker_of(data)
        if marker:
            position = data.rfind(marker)
            if position >= 0:
                event = _usage_event_at(data, position, at_event_start, call)
                if event is not None:
                    start, end = event
                    at_event_start = data.endswith(_BLANK_LINE)
                    if start:
                        yield data[:start]
                    if end < len(data):
                        yield data[end:]
                    continue
        at_event_start = data.endswith(_BLANK_LINE)
        yield data


async def _async_bytes_filter(reads: AsyncIterator[bytes], call: LLMCall) -> AsyncIterator[bytes]:
    at_event_start = True
    marker = b""
    async for data in reads:
        if not marker:
            marker = _marker_of(data)
        if marker:
            position = data.rfind(marker)
            if position >= 0:
                event = _usage_event_at(data, position, at_event_start, call)
                if event is not None:
                    start, end = event
                    at_event_start = data.endswith(_BLANK_LINE)
                    if start:
                        yield data[:start]
                    if end < len(data):
                        yield data[end:]
                    continue
        at_event_start = data.endswith(_BLANK_LINE)
        yield data


class _UsageTakingDecoder:
    """A stream's own event decoder, fed the stream's bytes minus the usage-only event (the SDK's ``_iter_events``
    hands its decoder ``response.iter_bytes()`` / ``aiter_bytes()``); anything else is the decoder's."""

    __slots__ = ("_call", "_decoder")

    def __init__(self, decoder: Any, call: LLMCall) -> None:
        self._decoder = decoder
        self._call = call

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[Any]:
        return self._decoder.iter_bytes(_sync_bytes_filter(iterator, self._call))  # type: ignore[no-any-return]

    def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        return self._decoder.aiter_bytes(_async_bytes_filter(iterator, self._call))  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._decoder, name)


def read_usage_chunk_as_text(stream: Any, call: LLMCall, *, is_async: bool) -> None:
    """Filter the usage-only chunk out of ``stream``'s events (an unstarted ``openai.Stream``/``AsyncStream``).

    At the bytes when the stream decodes them with a decoder of its own (``_decoder``, every generated SDK's
    stream), else at the decoded events.
    """
    try:
        decoder = getattr(stream, "_decoder", None)
        method = "aiter_bytes" if is_async else "iter_bytes"
        if callable(getattr(decoder, method, None)) and callable(getattr(stream, "_iter_events", None)):
            stream._decoder = _UsageTakingDecoder(decoder, call)
            return
        source = getattr(stream, "_iter_events", None)
        if not callable(source):
            return
        stream._iter_events = _async_filter(source, call) if is_async else _sync_filter(source, call)
    except Exception as exc:
        report_internal_error(_ERROR_KEY, exc)

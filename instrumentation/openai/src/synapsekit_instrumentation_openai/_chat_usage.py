"""A chat call's token usage, and the usage-only chunk we ask a stream for, read before the SDK parses it.

When the caller left ``stream_options.include_usage`` out, we ask for it (exact counts for the stream) and
hide the extra chunk from them. Left alone, the SDK builds a pydantic model from that chunk like from every
other — by far the costliest step per chunk — only for the proxy to drop it. So the stream's source of
server-sent events is filtered instead: an event whose text shows empty ``choices`` is parsed with
``json.loads``; when it is the usage-only chunk, its usage is recorded and the SDK never sees it.

Everything else takes the ordinary path, and so does every chunk when the SDK does not read its events
through ``_iter_events`` (the replacement is then simply never called): the proxy reads the parsed usage
chunk and hides it, as before. A failure of ours here is reported and the event passes through unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from synapsekit.plugin import report_internal_error

from ._fields import fields

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall

_ERROR_KEY = "openai.stream_usage_chunk"


_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
# An SDK model's fields read in C, all at once; fields() is the fallback for dicts and incomplete objects.
_read_usage = attrgetter(*_USAGE_FIELDS)
_read_prompt_details = attrgetter("cached_tokens", "cache_write_tokens")


def record_chat_usage(call: LLMCall, usage: Any) -> None:
    """Record a ``usage`` object: an SDK model (completion, parsed chunk) or the plain dict of a raw chunk."""
    if type(usage) is dict:
        prompt_tokens, completion_tokens, prompt_details, completion_details = fields(usage, *_USAGE_FIELDS)
    else:
        try:
            prompt_tokens, completion_tokens, prompt_details, completion_details = _read_usage(usage)
        except AttributeError:
            prompt_tokens, completion_tokens, prompt_details, completion_details = fields(
                usage, *_USAGE_FIELDS
            )
    # The details of an SDK model read with getattr in place rather than through fields(): this runs on
    # every response. The counts go to record_usage as read: it checks their types itself, and one that is not
    # an int (a broken proxy) marks the call's usage implausible rather than silently missing.
    cached_tokens = cache_write_tokens = reasoning_tokens = None
    if type(prompt_details) is dict:
        cached_tokens, cache_write_tokens = fields(prompt_details, "cached_tokens", "cache_write_tokens")
    elif prompt_details is not None:
        try:
            cached_tokens, cache_write_tokens = _read_prompt_details(prompt_details)
        except AttributeError:
            # cache_write_tokens is absent from older SDKs' models (openai 2.0): None then.
            cached_tokens = getattr(prompt_details, "cached_tokens", None)
            cache_write_tokens = getattr(prompt_details, "cache_write_tokens", None)
    if type(completion_details) is dict:
        reasoning_tokens = completion_details.get("reasoning_tokens")
    elif completion_details is not None:
        reasoning_tokens = getattr(completion_details, "reasoning_tokens", None)
    call.record_usage(
        input_tokens=prompt_tokens,
        output_tokens=completion_tokens,
        cached_input_tokens=cached_tokens,
        cache_creation_input_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens,
    )


def _take_usage(call: LLMCall, sse: Any) -> bool:
    """Record the usage of a usage-only chunk; True when ``sse`` was one (and must not reach the SDK)."""
    if sse.event:
        return False
    try:
        payload = json.loads(sse.data)
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


def read_usage_chunk_as_text(stream: Any, call: LLMCall, *, is_async: bool) -> None:
    """Filter the usage-only chunk out of ``stream``'s events (an unstarted ``openai.Stream``/``AsyncStream``)."""
    try:
        source = getattr(stream, "_iter_events", None)
        if not callable(source):
            return
        stream._iter_events = _async_filter(source, call) if is_async else _sync_filter(source, call)
    except Exception as exc:
        report_internal_error(_ERROR_KEY, exc)

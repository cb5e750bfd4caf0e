"""A response body the caller reads lazily, read alongside the caller: the call ends with the body.

``with_streaming_response`` (any request) and ``with_raw_response`` / ``client.post(...)`` of a streamed
request hand the caller a response whose body has not been read yet. However the caller reads it — the
wrapper's ``parse()``, ``read()``, ``json()``, ``iter_lines()``, the ``http_response``'s own methods, or the
SDK ``Stream`` that ``parse()`` builds — the bytes come out of the HTTP response's ``iter_bytes()`` /
``aiter_bytes()``, where every decoded byte passes. So that one method of that one response object is
replaced (an instance attribute; the class and the object's type are untouched) by a reader that hands the
bytes on and reads them as they pass:

- a JSON body is parsed once it is complete, and the call settled from it;
- a stream of server-sent events is read event by event with the operation's stream reader (the same that
  reads the SDK's parsed stream items, here given plain JSON); an event the reader hides — the usage chunk
  synapsekit asked for on the caller's behalf — is dropped from the bytes, so the caller reads exactly what it
  would have read uninstrumented.

The call ends when the body does: read to the end (completed), an error (failed), ``close()``/``aclose()``
before the end or the reader abandoned half way (abandoned: missing counts estimated), or the response
collected unread. ``iter_raw()`` bypasses decoding and is not read (the call then ends on close or collection).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from synapsekit.plugin import (
    BudgetExceeded,
    StreamReader,
    abandon_when_collected,
    report_internal_error,
)

from ._operation import Operation
from ._sse import EventSplitter, event_data

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall


def settle(call: LLMCall, operation: Operation, body: Any) -> None:
    """Record a complete response (SDK model or JSON) and end the call; never raises outside tests."""
    try:
        operation.record(call, body)
        if call.input_tokens is None:
            call.estimate_missing_usage()
    except Exception as exc:
        call.finish()
        report_internal_error(f"stainless.response:{operation.name}", exc)
    call.finish()


def settle_json(call: LLMCall, operation: Operation, content: bytes) -> None:
    """Settle from a raw JSON body; a body that is not JSON leaves the counts to estimation."""
    try:
        body = json.loads(content)
    except ValueError:
        call.abandon()
        return
    settle(call, operation, body)


class BodyTee:
    """The state of one body read alongside its caller (see the module docstring)."""

    __slots__ = (
        "_finalizer",
        "_parts",
        "_splitter",
        "call",
        "done",
        "hide",
        "operation",
        "pulling",
        "reader",
    )

    def __init__(self, call: LLMCall, operation: Operation, *, events: bool, hide_usage: bool) -> None:
        self.call = call
        self.operation = operation
        self.hide = hide_usage
        # Events: the stream reader and the splitter; a JSON body: its parts, parsed at the end.
        self.reader: StreamReader | None = (
            operation.stream_reader(call, None, hide_usage=hide_usage, is_async=False) if events else None
        )
        self._splitter = EventSplitter() if events else None
        self._parts: list[bytes] | None = None if events else []
        # True while bytes are being drawn from the SDK's response: its own close() at the end of the body
        # comes then, and is not the caller abandoning it.
        self.pulling = False
        # The stream's own end marker (``data: [DONE]``) passed: the SDK stops reading there and closes the
        # response, which then completes the call rather than abandoning it.
        self.done = False
        self._finalizer: Any = None

    # -- the bytes ------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        """Read ``data``; what the caller gets in its place."""
        parts = self._parts
        if parts is not None:
            parts.append(data)
            return data
        assert self._splitter is not None
        events = self._splitter.feed(data)
        if not self.hide:
            for event in events:
                self._read_event(event)
            return data
        kept = [event for event in events if self._read_event(event)]
        return b"".join(kept)

    def flush(self) -> bytes:
        if self._splitter is None:
            return b""
        tail = self._splitter.flush()
        if tail and not self._read_event(tail) and self.hide:
            return b""
        return tail if self.hide else b""

    def _read_event(self, event: bytes) -> bool:
        """Read one event into the call; False when it is to be dropped."""
        data = event_data(event)
        if data is None or not data.startswith("{"):
            if data is not None and data.startswith("[DONE]"):
                self.done = True
            return True  # a comment, a keep-alive, the end marker
        try:
            item = json.loads(data)
        except ValueError:
            return True  # not ours to judge: the SDK raises on it exactly as it would uninstrumented
        reader = self.reader
        assert reader is not None
        try:
            return reader.on_item(item) or not self.hide
        except BudgetExceeded:
            raise
        except Exception as exc:
            report_internal_error(f"stainless.body_event:{self.operation.name}", exc)
            return True

    # -- the ends -------------------------------------------------------------------------------------------
    def complete(self) -> None:
        self._detach()
        call = self.call
        if call.ended:
            return
        parts = self._parts
        if parts is not None:
            settle_json(call, self.operation, b"".join(parts))
            return
        reader = self.reader
        assert reader is not None
        try:
            reader.on_complete()
        except Exception as exc:
            report_internal_error(f"stainless.body_complete:{self.operation.name}", exc)
        call.finish()

    def fail(self, exc: BaseException) -> None:
        self._detach()
        call = self.call
        if not call.ended and (call.input_tokens is not None or call.output_tokens is not None):
            # Usage began to arrive before the failure: the request was billed; estimate what is missing.
            call.estimate_missing_usage()
        call.fail(exc)

    def abandon(self) -> None:
        """The caller stopped reading (closed the response, dropped the reader) before the body ended."""
        if self.done:
            self.complete()
            return
        self._detach()
        self.call.abandon()

    def watch(self, response: Any) -> None:
        """End the call if ``response`` is collected before its body was read to the end."""
        # Ended on synapsekit's reaper thread, not inside the collector (which may run in one of our locked sections).
        self._finalizer = abandon_when_collected(response, self.call)

    def _detach(self) -> None:
        finalizer = self._finalizer
        if finalizer is not None:
            self._finalizer = None
            finalizer.detach()


def _sync_bytes(
    tee: BodyTee, source: Generator[bytes, None, None], close: Callable[[], Any]
) -> Iterator[bytes]:
    if tee.call.ended:
        # Read again (httpx serves a read body from its cache, already filtered): nothing left to count.
        yield from source
        return
    try:
        while True:
            tee.pulling = True
            try:
                data = next(source)
            except StopIteration:
                break
            finally:
                tee.pulling = False
            out = tee.feed(data)
            if out:
                yield out
        tail = tee.flush()
        if tail:
            yield tail
    except GeneratorExit:
        tee.abandon()
        source.close()
        raise
    except BudgetExceeded as exc:
        tee.fail(exc)  # first: closing the response below would otherwise read as the caller abandoning it
        source.close()
        close()  # the rest of the stream is not read (httpx < 1 does not close on the generator's close)
        raise
    except BaseException as exc:
        tee.fail(exc)
        raise
    tee.complete()


async def _async_bytes(tee: BodyTee, source: Any, close: Callable[[], Any]) -> AsyncIterator[bytes]:
    if tee.call.ended:
        async for data in source:
            yield data
        return
    try:
        while True:
            tee.pulling = True
            try:
                data = await source.__anext__()
            except StopAsyncIteration:
                break
            finally:
                tee.pulling = False
            out = tee.feed(data)
            if out:
                yield out
        tail = tee.flush()
        if tail:
            yield tail
    except GeneratorExit:
        tee.abandon()
        raise
    except BudgetExceeded as exc:
        tee.fail(exc)
        await source.aclose()
        await close()
        raise
    except BaseException as exc:
        tee.fail(exc)
        raise
    tee.complete()


def read_alongside(
    response: Any, call: LLMCall, operation: Operation, *, events: bool, hide_usage: bool, is_async: bool
) -> None:
    """Read ``response``'s body (an ``httpx``/``httpx2`` response) as its caller reads it; see the module."""
    tee = BodyTee(call, operation, events=events, hide_usage=hide_usage)
    # The replacements reach the response through a weak reference: a strong one, stored on the response
    # itself, would make a cycle that only the cyclic collector frees, and keep the connection open until then.
    ref = weakref.ref(response)
    bytes_name, close_name = ("aiter_bytes", "aclose") if is_async else ("iter_bytes", "close")
    own = vars(response)
    # Another layer may have replaced these on the object already: chain to its replacement, not the class's.
    read_bytes: Callable[..., Any] | None = own.get(bytes_name)
    close: Callable[..., Any] | None = own.get(close_name)

    def source(response: Any, chunk_size: int | None) -> Any:
        if read_bytes is not None:
            return read_bytes(chunk_size)
        return getattr(type(response), bytes_name)(response, chunk_size)

    def closing(response: Any) -> Any:
        return close() if close is not None else getattr(type(response), close_name)(response)

    if is_async:

        def aiter_bytes(chunk_size: int | None = None) -> AsyncIterator[bytes]:
            return _async_bytes(tee, source(ref(), chunk_size), aclose)

        async def aclose() -> None:
            response = ref()
            try:
                # None once the response is being collected (its weak references are cleared first): there
                # is nothing left to close, only the call to end.
                if response is not None:
                    await closing(response)
            finally:
                if not tee.pulling:
                    tee.abandon()

        own[bytes_name], own[close_name] = aiter_bytes, aclose
    else:

        def iter_bytes(chunk_size: int | None = None) -> Iterator[bytes]:
            return _sync_bytes(tee, source(ref(), chunk_size), sync_close)

        def sync_close() -> None:
            response = ref()
            try:
                if response is not None:
                    closing(response)
            finally:
                if not tee.pulling:
                    tee.abandon()

        own[bytes_name], own[close_name] = iter_bytes, sync_close
    tee.watch(response)

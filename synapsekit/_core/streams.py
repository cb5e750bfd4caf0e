"""Stream proxies: an SDK stream that finalises its LLM call exactly once, whatever the caller does.

The proxy *is* the SDK's stream as far as the caller can tell (``wrapt.ObjectProxy``: ``isinstance``
holds, every attribute and helper passes through); it only intercepts iteration and the ways a stream
ends: exhaustion, an exception, ``close()``, context-manager exit, and garbage collection.

What an instrumentor reads from each item (usage, text) and whether the caller sees it (an injected
usage-only chunk is hidden) lives in a :class:`StreamReader`, a plain object the proxy hands every item
to: instrumentors subclass the reader, not the proxy, and pass an instance to
``SyncStreamProxy(wrapped, call, reader)`` / ``AsyncStreamProxy(wrapped, call, reader)``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import wrapt

from synapsekit._core import reaper
from synapsekit._core.errors import report_internal_error
from synapsekit._core.exceptions import BudgetExceeded

# inspect.CO_GENERATOR (a code object's flag, stable since Python 2.2), without importing inspect.
CO_GENERATOR = 0x20

if TYPE_CHECKING:
    # Annotations only: an instrumentor subclasses StreamReader when it is loaded, which must not load the
    # call machinery (pricing tables included) before the first call.
    from synapsekit._core.call import LLMCall


class StreamReader:
    """Reads a stream's items into its call; the per-stream state of a stream proxy.

    It exists because the proxy is costly to read from: every attribute read on a ``wrapt.ObjectProxy``
    goes through the proxy's machinery (several times the cost of a plain object's), and a stream pays
    for each read on every chunk. The proxy is only the caller-facing object; it reads its reader once per
    item, and everything per item (the iterator, the call, the instrumentor's own state) is read from
    here. Subclasses add their state as ``__slots__`` and override :meth:`on_item` / :meth:`on_complete`.

    ``call`` is the proxy's call. ``iterator`` is the iterator the proxy draws items from: None until the
    first item, when the proxy fills it with ``iter(wrapped)`` (``wrapped.__aiter__()`` for an async
    stream); a reader that sets one itself (an iterator that wraps the SDK's) is used as it is.
    """

    __slots__ = ("call", "iterator")

    call: LLMCall
    iterator: Any

    def __init__(self, call: LLMCall) -> None:
        self.call = call
        self.iterator = None

    # Optional, in place of on_item: ``chunk_text(item)`` reads one item and returns the text of a chunk (a
    # ``str``, possibly empty), which the proxy then counts as ``call.chunk(text)`` would, or ``True`` for an
    # item delivered without being counted as a chunk, or ``False`` to hide it. A reader whose items are text
    # chunks defines it as a method: the proxy then counts each chunk itself, with no call per chunk into the
    # call's own ``chunk()`` on the common path (not the first chunk, no chunk times kept, the budgets'
    # allowance not passed). The proxy reads such a reader only through ``chunk_text``; its ``on_item``, if
    # any, is for callers of its own. The same errors rules apply: a BudgetExceeded cuts the stream, any other
    # exception is reported and the item delivered.
    chunk_text: Callable[[Any], str | bool] | None = None

    # Optional, for a ``chunk_text`` reader of a synchronous stream: ``sync_loop(proxy)`` returns the generator a
    # loop over the proxy draws its items from, in place of the proxy's own (_sync_chunks): a reader whose common
    # chunk is read in a few lines inlines that read there, a call per chunk less. It keeps _sync_chunks' contract
    # exactly: items from ``self.iterator`` (filled with ``iter(proxy.__wrapped__)`` when None), each counted as
    # ``chunk_text`` would have it counted; a BudgetExceeded while counting cuts the stream
    # (``proxy._self_cut(exc)``), any other exception of ours is reported and the item delivered, an exception
    # of the stream's own fails the call (one thrown in at the yield does not), and exhaustion completes it
    # (``proxy._self_complete()``). ``next(stream)`` and async streams still read through ``chunk_text``.
    sync_loop: Callable[[Any], Iterator[Any]] | None = None

    def on_item(self, item: Any) -> bool:
        """Read one item (record usage, call ``self.call.chunk(text)``); return False to hide it.

        A :class:`BudgetExceeded` raised here (by ``call.chunk``) cuts the stream; any other exception is
        reported as an internal error and the item delivered.
        """
        self.call.chunk()
        return True

    def on_complete(self) -> None:
        """The stream was exhausted normally; by default, counts the provider did not send are estimated."""
        self.call.estimate_missing_usage()


async def _close_async(stream: Any) -> None:
    # SDK stream classes close with ``close()``; an SDK method that is an async generator (ollama, cohere)
    # returns one that only has ``aclose()``.
    close = getattr(stream, "close", None)
    await (close() if close is not None else stream.aclose())


def _complete(reader: StreamReader) -> None:
    try:
        reader.on_complete()
    except Exception as exc:
        report_internal_error(f"stream.on_complete:{type(reader).__name__}", exc)
    reader.call.finish()


class _StreamProxyBase(wrapt.ObjectProxy):  # type: ignore[type-arg]
    def __init__(self, wrapped: Any, call: LLMCall, reader: StreamReader | None = None) -> None:
        if reader is None:
            reader = StreamReader(call)
        elif reader.call is not call:
            raise ValueError("a stream proxy's reader must read into the proxy's own call")
        super().__init__(wrapped)
        # The call is kept here too, for close(), context-manager exit and collection; per item the proxy
        # reads only its reader.
        self._self_call = call
        self._self_reader = reader
        if reaper._thread is None:  # ends the call if the stream is dropped unread (see __del__)
            reaper.ensure_started()

    @property
    def synapsekit_call(self) -> LLMCall:
        return self._self_call

    def __del__(self) -> None:
        # An abandoned stream: its call ends here when the caller dropped the last reference (a point of their
        # own code), and on the reaper thread when the cyclic collector finalizes it (which may have interrupted
        # one of our own locked sections on this thread: see _core.reaper). The collector marks an object
        # finalized before calling __del__; a dropped reference marks it after. Never raise from here.
        # (try/except, not contextlib.suppress: three Python calls more per stream.)
        try:
            call = self._self_call
            if not call.ended:
                if gc.is_finalized(self):
                    reaper.abandon_later(call)
                else:
                    call.abandon()
        except Exception:
            pass


def _sync_items(proxy: SyncStreamProxy, reader: StreamReader) -> Iterator[Any]:
    """The items of ``proxy``'s stream for a loop: :meth:`SyncStreamProxy.__next__` as a generator."""
    iterator = reader.iterator
    if iterator is None:
        iterator = reader.iterator = iter(proxy.__wrapped__)
    on_item = reader.on_item
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            _complete(reader)
            return
        except BaseException as exc:
            reader.call.fail(exc)
            raise
        try:
            deliver = on_item(item)
        except BudgetExceeded as exc:
            proxy._self_cut(exc)
            raise
        except Exception as exc:
            report_internal_error(f"stream.on_item:{type(reader).__name__}", exc)
            deliver = True
        if deliver:
            yield item


def _sync_chunks(
    proxy: SyncStreamProxy, reader: StreamReader, chunk_text: Callable[[Any], str | bool]
) -> Iterator[Any]:
    """:func:`_sync_items` for a reader with ``chunk_text``: each chunk counted here, in the loop's frame."""
    iterator = reader.iterator
    if iterator is None:
        iterator = reader.iterator = iter(proxy.__wrapped__)
    call = reader.call
    # Whether a chunk may be counted here: once the first chunk was counted by chunk() (its time is kept there)
    # and no chunk times are kept (decided at the first chunk, for good). The allowance is read per chunk:
    # chunk() and reported usage move it.
    counted_here = False
    # The items drawn by the loop itself (no call to next() per item); ``drawing`` tells a failure of the
    # stream (the call fails) from one raised here or thrown in at the yield (handled there, or not ours).
    drawing = True
    try:
        for item in iterator:
            drawing = False
            try:
                text = chunk_text(item)
                if text is False:
                    drawing = True
                    continue
                if text is not True:
                    # LLMCall.chunk(text)'s common case in place (a call per chunk less); anything else takes
                    # chunk() itself, which decides exactly as before (its budgets' check included).
                    chars = call._streamed_chars + len(text)
                    if counted_here and chars <= call._chunk_allowance:
                        call.chunks += 1
                        call._streamed_chars = chars
                    else:
                        call.chunk(text)
                        counted_here = call.chunk_times_ns is None
            except BudgetExceeded as exc:
                proxy._self_cut(exc)
                raise
            except Exception as exc:
                report_internal_error(f"stream.on_item:{type(reader).__name__}", exc)
            yield item
            drawing = True
    except BaseException as exc:
        if drawing:
            call.fail(exc)
        raise
    _complete(reader)


class SyncStreamProxy(_StreamProxyBase):
    """Proxy for a synchronous SDK stream (``openai.Stream``, ``anthropic.Stream``)."""

    def __iter__(self) -> Iterator[Any]:
        # A generator, where the SDK's own stream returns one (its ``__iter__`` is a generator function: the
        # generated SDKs' streams): ``for chunk in stream`` then resumes one frame per chunk instead of calling
        # ``__next__`` through the type slot (a call per chunk costs about twice a resumption). It draws from the
        # same reader (iterator and state) as ``__next__``, so ``next(stream)`` and loops can be mixed, and it
        # holds the proxy, which finalises an abandoned stream when collected. Otherwise the proxy is its own
        # iterator, as before: a wrapped generator is (closing what ``iter()`` gave closes the stream), and a
        # subclass that overrides ``__next__`` is iterated through it.
        if type(self).__next__ is SyncStreamProxy.__next__:
            code = getattr(type(self.__wrapped__).__iter__, "__code__", None)
            if code is not None and code.co_flags & CO_GENERATOR:
                reader = self._self_reader
                chunk_text = reader.chunk_text
                if chunk_text is not None:
                    sync_loop = reader.sync_loop
                    if sync_loop is not None:
                        return sync_loop(self)
                    return _sync_chunks(self, reader, chunk_text)
                return _sync_items(self, reader)
        return self

    def __next__(self) -> Any:
        # One read on the proxy per item (its reader); the rest are locals and the reader's plain slots.
        reader = self._self_reader
        iterator = reader.iterator
        if iterator is None:
            iterator = reader.iterator = iter(self.__wrapped__)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                _complete(reader)
                raise
            except BaseException as exc:
                reader.call.fail(exc)
                raise
            # Our own failure reading an item is reported and the item delivered; a budget cut ends the
            # stream. Inline rather than a helper: this runs once per chunk, and a call per chunk adds up.
            try:
                chunk_text = reader.chunk_text
                if chunk_text is None:
                    deliver = reader.on_item(item)
                else:
                    text = chunk_text(item)
                    if text is True or text is False:
                        deliver = text
                    else:
                        reader.call.chunk(text)
                        deliver = True
            except BudgetExceeded as exc:
                self._self_cut(exc)
                raise
            except Exception as exc:
                report_internal_error(f"stream.on_item:{type(reader).__name__}", exc)
                deliver = True
            if deliver:
                return item

    def _self_cut(self, exc: BudgetExceeded) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.fail(exc)

    def _self_complete(self) -> None:
        """The stream was read to its end (for a reader's ``sync_loop``)."""
        _complete(self._self_reader)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.abandon()

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            if exc is not None:
                self._self_call.fail(exc)
            self._self_call.abandon()


class AsyncStreamProxy(_StreamProxyBase):
    """Proxy for an asynchronous SDK stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        reader = self._self_reader
        iterator = reader.iterator
        if iterator is None:
            iterator = reader.iterator = self.__wrapped__.__aiter__()
        while True:
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                _complete(reader)
                raise
            except BaseException as exc:
                reader.call.fail(exc)
                raise
            try:
                chunk_text = reader.chunk_text
                if chunk_text is None:
                    deliver = reader.on_item(item)
                else:
                    text = chunk_text(item)
                    if text is True or text is False:
                        deliver = text
                    else:
                        # LLMCall.chunk(text)'s common case in place, as in _sync_chunks: not the first chunk,
                        # no chunk times kept, the allowance not passed.
                        call = reader.call
                        chars = call._streamed_chars + len(text)
                        if call.chunks and chars <= call._chunk_allowance and call.chunk_times_ns is None:
                            call.chunks += 1
                            call._streamed_chars = chars
                        else:
                            call.chunk(text)
                        deliver = True
            except BudgetExceeded as exc:
                await self._self_cut(exc)
                raise
            except Exception as exc:
                report_internal_error(f"stream.on_item:{type(reader).__name__}", exc)
                deliver = True
            if deliver:
                return item

    async def _self_cut(self, exc: BudgetExceeded) -> None:
        try:
            await _close_async(self.__wrapped__)
        finally:
            self._self_call.fail(exc)

    async def close(self) -> None:
        try:
            await _close_async(self.__wrapped__)
        finally:
            self._self_call.abandon()

    async def aclose(self) -> None:
        await self.close()

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            if exc is not None:
                self._self_call.fail(exc)
            self._self_call.abandon()

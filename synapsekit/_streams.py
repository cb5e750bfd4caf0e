"""Stream proxies: an SDK stream that finalises its LLM call exactly once, whatever the caller does.

The proxy *is* the SDK's stream as far as the caller can tell (``wrapt.ObjectProxy``: ``isinstance``
holds, every attribute and helper passes through); it only intercepts iteration and the ways a stream
ends: exhaustion, an exception, ``close()``, context-manager exit, and garbage collection. Instrumentors
subclass it and implement :meth:`_on_item` to read each item (usage, text) and decide whether the caller
sees it (an injected usage-only chunk is hidden).
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

import wrapt

from synapsekit._call import LLMCall
from synapsekit._errors import report_internal_error
from synapsekit._exceptions import BudgetExceeded


class _StreamProxyBase(wrapt.ObjectProxy):  # type: ignore[type-arg]
    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_iterator: Any = None

    @property
    def synapsekit_call(self) -> LLMCall:
        return self._self_call

    def _on_item(self, item: Any) -> bool:
        """Read one item (record usage, call ``self._self_call.chunk(text)``); return False to hide it."""
        self._self_call.chunk()
        return True

    def _on_complete(self) -> None:
        """The stream was exhausted normally; by default, counts the provider did not send are estimated."""
        self._self_call.estimate_missing_usage()

    def _self_complete(self) -> None:
        try:
            self._on_complete()
        except Exception as exc:
            report_internal_error(f"stream.on_complete:{type(self).__name__}", exc)
        self._self_call.finish()

    def __del__(self) -> None:
        # Garbage collection of an abandoned stream: finalise, and never raise from here.
        with contextlib.suppress(Exception):
            self._self_call.abandon()


class SyncStreamProxy(_StreamProxyBase):
    """Proxy for a synchronous SDK stream (``openai.Stream``, ``anthropic.Stream``)."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        call = self._self_call
        if self._self_iterator is None:
            self._self_iterator = iter(self.__wrapped__)
        while True:
            try:
                item = next(self._self_iterator)
            except StopIteration:
                self._self_complete()
                raise
            except BaseException as exc:
                call.fail(exc)
                raise
            # Our own failure reading an item is reported and the item delivered; a budget cut ends the
            # stream. Inline rather than a helper: this runs once per chunk, and a call per chunk adds up.
            try:
                deliver = self._on_item(item)
            except BudgetExceeded as exc:
                self._self_cut(exc)
                raise
            except Exception as exc:
                report_internal_error(f"stream.on_item:{type(self).__name__}", exc)
                deliver = True
            if deliver:
                return item

    def _self_cut(self, exc: BudgetExceeded) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.fail(exc)

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
        call = self._self_call
        if self._self_iterator is None:
            self._self_iterator = self.__wrapped__.__aiter__()
        while True:
            try:
                item = await self._self_iterator.__anext__()
            except StopAsyncIteration:
                self._self_complete()
                raise
            except BaseException as exc:
                call.fail(exc)
                raise
            try:
                deliver = self._on_item(item)
            except BudgetExceeded as exc:
                await self._self_cut(exc)
                raise
            except Exception as exc:
                report_internal_error(f"stream.on_item:{type(self).__name__}", exc)
                deliver = True
            if deliver:
                return item

    async def _self_cut(self, exc: BudgetExceeded) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_call.fail(exc)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
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

"""``with_raw_response`` and ``with_streaming_response``: the call ends when the body is read, not returned.

These variants call the same patched methods, but the SDK hands back a response wrapper instead of the
parsed object (the SDK's ``parse()`` caches, so the object the caller gets is the one read here):

- ``LegacyAPIResponse`` (``with_raw_response``) of a non-streamed request has its body already: it is parsed
  at once and the call ends there;
- a streamed request's wrapper (``parse()`` gives an ``openai.Stream``) and ``APIResponse`` /
  ``AsyncAPIResponse`` (``with_streaming_response``, body read lazily) are proxied: the call ends when the
  caller parses the body (``parse()``/``json()``), closes the response (usage is then read from the body if
  it was read, e.g. with ``read()``, else estimated) or drops it. A parsed stream is handed to the usual
  stream proxy, which then owns the call.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import wrapt

from synapsekit.plugin import LLMCall, report_internal_error

from ._operation import Operation
from ._sdk import SDK


def settle(call: LLMCall, operation: Operation, body: Any) -> None:
    """Record a complete response body (SDK model or dict) and end the call; never raises outside tests."""
    try:
        operation.record(call, body)
        if call.input_tokens is None:
            call.estimate_missing_usage()
    except Exception as exc:
        call.finish()
        report_internal_error(f"openai.response:{operation.name}", exc)
    call.finish()


class _ResponseProxyBase(wrapt.ObjectProxy):  # type: ignore[type-arg]  # generic only in wrapt's stubs
    def __init__(self, wrapped: Any, call: LLMCall, operation: Operation, streamed: bool, sdk: SDK) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_operation = operation
        self._self_streamed = streamed
        self._self_sdk = sdk
        self._self_source: Any = None
        self._self_stream: Any = None

    def _self_adopt(self, parsed: Any) -> Any:
        """What ``parse()`` returns to the caller: our stream proxy for a stream, else the object itself."""
        if parsed is self._self_source and self._self_stream is not None:
            return self._self_stream
        sdk, operation = self._self_sdk, self._self_operation
        proxy_type = (
            operation.sync_stream
            if isinstance(parsed, sdk.stream)
            else operation.async_stream
            if isinstance(parsed, sdk.async_stream)
            else None
        )
        if proxy_type is None:
            if not self._self_call.ended:
                settle(self._self_call, operation, parsed)
            return parsed
        self._self_source, self._self_stream = parsed, proxy_type(parsed, self._self_call, False)
        return self._self_stream

    def _self_settle_unparsed(self) -> None:
        """Closed or dropped: read usage from the body if the caller read it, else estimate it."""
        call = self._self_call
        if call.ended or self._self_stream is not None:
            return
        body = None
        if not self._self_streamed:
            try:
                content = self.__wrapped__.http_response.content
            except Exception:
                # httpx raises ResponseNotRead when the caller never read the body: nothing to read.
                content = None
            if content:
                try:
                    body = json.loads(content)
                except ValueError:
                    body = None
        if body is not None:
            settle(call, self._self_operation, body)
        else:
            call.abandon()

    def __del__(self) -> None:
        # Nothing may escape a finaliser.
        with contextlib.suppress(Exception):
            self._self_settle_unparsed()


class SyncResponseProxy(_ResponseProxyBase):
    """``LegacyAPIResponse`` of a streamed request, or a lazily read ``APIResponse``."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_adopt(self.__wrapped__.parse(*args, **kwargs))

    def json(self) -> Any:
        data = self.__wrapped__.json()
        if not self._self_streamed and not self._self_call.ended:
            settle(self._self_call, self._self_operation, data)
        return data

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_settle_unparsed()


class AsyncResponseProxy(_ResponseProxyBase):
    """A lazily read ``AsyncAPIResponse`` (``with_streaming_response`` on the async client)."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_adopt(await self.__wrapped__.parse(*args, **kwargs))

    async def json(self) -> Any:
        data = await self.__wrapped__.json()
        if not self._self_streamed and not self._self_call.ended:
            settle(self._self_call, self._self_operation, data)
        return data

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_settle_unparsed()

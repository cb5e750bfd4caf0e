"""litellm's ``CustomStreamWrapper``, read as the caller iterates it.

litellm turns every provider's stream into OpenAI-shaped ``ModelResponseStream`` chunks. With
``stream_options.include_usage`` it ends the stream with one extra chunk that has ``usage`` and no choices;
we ask for it when the caller did not (its counts are exact, and litellm computes them for providers that
report usage in pieces) and then hide it, so the caller sees the chunks of an uninstrumented run.

One ``CustomStreamWrapper`` class serves both ``completion(stream=True)`` (iterated with ``for``) and
``acompletion(stream=True)`` (``async for``); its ``close()`` is synchronous and ``aclose()`` a coroutine,
which the async proxy below keeps as they are.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import AsyncStreamProxy, BudgetExceeded, LLMCall, StreamReader, SyncStreamProxy

from ._usage import is_reported, record_usage, response_model


class ChunkReader(StreamReader):
    __slots__ = ("hide_usage", "model_prefix")

    def __init__(self, call: LLMCall, hide_usage: bool, model_prefix: str) -> None:
        super().__init__(call)
        self.hide_usage = hide_usage
        self.model_prefix = model_prefix

    def on_item(self, item: Any) -> bool:
        call = self.call
        choices = getattr(item, "choices", None)
        usage = getattr(item, "usage", None)
        if is_reported(usage):
            record_usage(call, usage)
            if self.hide_usage and _carries_nothing_else(choices):
                return False
        if call.response_id is None:
            model, response_id = getattr(item, "model", None), getattr(item, "id", None)
            call.record_response(
                model=response_model(model, self.model_prefix),
                response_id=response_id if isinstance(response_id, str) else None,
            )
        text = None
        if choices:
            choice = choices[0]
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None)
            if isinstance(content, str):
                text = content
            reason = getattr(choice, "finish_reason", None)
            if isinstance(reason, str):
                call.record_response(finish_reasons=(reason,))
        call.chunk(text)
        return True


def _carries_nothing_else(choices: Any) -> bool:
    """Whether a usage chunk is only that: litellm >= 1.8x sends it without choices, older ones with an empty
    delta and no finish reason."""
    if not choices:
        return True
    if len(choices) != 1:
        return False
    choice = choices[0]
    delta = getattr(choice, "delta", None)
    return (
        getattr(choice, "finish_reason", None) is None
        and not getattr(delta, "content", None)
        and not getattr(delta, "tool_calls", None)
        and not getattr(delta, "function_call", None)
    )


def _close_sync(stream: Any) -> None:
    # Older litellm streams have no close(): there is then nothing of theirs to close.
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def budget_cut_beneath(exc: BaseException) -> BudgetExceeded | None:
    """The :class:`BudgetExceeded` behind ``exc``, when a layer under litellm cut the stream.

    An instrumented SDK stream under litellm (the openai SDK's, on litellm's ``openai/`` route) is cut by
    raising ``BudgetExceeded`` inside litellm's iteration, and litellm maps every exception there to one of
    its own (``APIConnectionError``, ``MidStreamFallbackError``...). The caller must get the budget's
    exception, as from any other cut stream: it is found in the chain litellm keeps.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen or len(seen) > 8:
            continue
        seen.add(id(current))
        if isinstance(current, BudgetExceeded):
            return current
        original = getattr(current, "original_exception", None)
        pending.extend(
            (
                current.__cause__,
                current.__context__,
                original if isinstance(original, BaseException) else None,
            )
        )
    return None


class SyncChunkStream(SyncStreamProxy):
    """``SyncStreamProxy`` that cuts a litellm stream whether or not its version has ``close()``, and
    surfaces a budget cut made beneath litellm."""

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except BudgetExceeded:
            raise
        except Exception as exc:
            cut = budget_cut_beneath(exc)
            if cut is None:
                raise
            raise cut from None

    def _self_cut(self, exc: BudgetExceeded) -> None:
        try:
            _close_sync(self.__wrapped__)
        finally:
            self._self_call.fail(exc)


class AsyncChunkStream(AsyncStreamProxy):
    """``AsyncStreamProxy`` with ``CustomStreamWrapper``'s own closing methods (sync ``close``, async
    ``aclose``), surfacing a budget cut made beneath litellm."""

    async def __anext__(self) -> Any:
        try:
            return await super().__anext__()
        except BudgetExceeded:
            raise
        except Exception as exc:
            cut = budget_cut_beneath(exc)
            if cut is None:
                raise
            raise cut from None

    def close(self) -> None:  # type: ignore[override]  # litellm's close() is synchronous
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.abandon()

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_call.abandon()

    async def _self_cut(self, exc: BudgetExceeded) -> None:
        try:
            aclose = getattr(self.__wrapped__, "aclose", None)
            if aclose is not None:
                await aclose()
            else:
                _close_sync(self.__wrapped__)
        finally:
            self._self_call.fail(exc)

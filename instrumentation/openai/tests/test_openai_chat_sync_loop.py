"""The chat reader's own loop over a synchronous stream (``ChatChunkReader.sync_loop``): the proxy's loop with the
steady chunk's read in place. Each case runs the same SDK chunks through it and through the proxy's own loop
(``streams._sync_chunks``, the reader with ``sync_loop`` unset) and both must end the same: the chunks the caller
gets, the counts, the response, how the call ended and whether the stream was closed."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openai._models import construct_type
from openai.types.chat import ChatCompletionChunk
from synapsekit_instrumentation_openai._chat import ChatChunkReader

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit._core.errors import set_strict
from synapsekit.plugin import LLMCall, SyncStreamProxy, start_call

pytestmark = pytest.mark.usefixtures("instrumented")


# A model no tokenizer knows: its prompt is estimated at one token per four characters (4 here), whatever the
# tests before loaded.
MODEL = "sync-loop-test-model"
PROMPT = "abc abc abc abc"


class ProxysOwnLoop(ChatChunkReader):
    """The same reader, read by the proxy's own loop."""

    __slots__ = ()
    sync_loop = None  # type: ignore[assignment]


def _chunk(delta: dict[str, Any], reason: str | None = None, usage: Any = None) -> ChatCompletionChunk:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": reason}]
    value = {
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": choices,
        "usage": usage,
    }
    return construct_type(type_=ChatCompletionChunk, value=value)  # type: ignore[no-any-return]


def _stream_chunks(words: int = 30) -> list[Any]:
    """A stream as the SDK builds it: role, ``words`` three-character contents, a tool-call argument, a
    refusal, the finish, and the usage-only chunk asked for on the caller's behalf."""
    tool_call = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a":1}'},
    }
    return [
        _chunk({"role": "assistant", "content": ""}),
        *(_chunk({"content": f" {index:02d}"}) for index in range(words)),
        _chunk({"tool_calls": [tool_call]}),
        _chunk({"refusal": "no"}),
        _chunk({}, "stop"),
        _chunk(None, usage={"prompt_tokens": 4, "completion_tokens": 33, "total_tokens": 37}),  # type: ignore[arg-type]
    ]


class SdkStream:
    """An SDK stream: ``__iter__`` a generator (the proxy then loops), optionally failing after some chunks."""

    def __init__(self, chunks: list[Any], fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.fail_after = fail_after
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_after:
                raise ConnectionError("connection reset")
            yield chunk

    def close(self) -> None:
        self.closed = True


def _outcome(call: LLMCall, stream: SdkStream, got: list[Any]) -> tuple[Any, ...]:
    positions = {id(chunk): index for index, chunk in enumerate(stream.chunks)}
    return (
        [positions[id(chunk)] for chunk in got],  # which of the stream's chunks the caller got
        call.ended,
        call.chunks,
        call._streamed_chars,
        call.input_tokens,
        call.output_tokens,
        call.usage_estimated,
        call.response_id,
        call.response_model,
        call.finish_reasons,
        call.error_type,
        stream.closed,
    )


def _run(
    reader_class: type[ChatChunkReader], read: Callable[[SyncStreamProxy], list[Any]], **stream: Any
) -> Any:
    call = start_call("openai", "chat", MODEL, streamed=True, prompt=PROMPT)
    sdk_stream = SdkStream(**stream)
    proxy = SyncStreamProxy(sdk_stream, call, reader_class(call, True))
    got = read(proxy)
    del proxy
    gc.collect()
    return _outcome(call, sdk_stream, got)


def _both(read: Callable[[SyncStreamProxy], list[Any]], **stream: Any) -> Any:
    own = _run(ChatChunkReader, read, **stream)
    assert own == _run(ProxysOwnLoop, read, **stream)
    return own


def _all(proxy: SyncStreamProxy) -> list[Any]:
    return list(proxy)


def test_the_readers_loop_is_the_proxys_own_for_a_synchronous_loop() -> None:
    call = start_call("openai", "chat", "gpt-4o-mini", streamed=True)
    proxy = SyncStreamProxy(SdkStream([]), call, ChatChunkReader(call, True))
    assert iter(proxy).gi_code is ChatChunkReader.sync_loop.__code__  # type: ignore[attr-defined]
    call.finish()


def test_a_stream_read_to_its_end() -> None:
    chunks = _stream_chunks()
    ids, *rest = _both(_all, chunks=chunks)
    assert ids == list(range(len(chunks) - 1))  # the usage-only chunk hidden
    # 30 three-character contents, 7 characters of arguments, 2 of refusal: 34 chunks counted.
    assert rest == [
        True,
        34,
        99,
        4,
        33,
        False,
        "chatcmpl-7",
        "gpt-4o-mini-2024-07-18",
        ("stop",),
        None,
        False,
    ]


def test_a_stream_left_half_way_is_abandoned_with_what_it_streamed() -> None:
    def ten(proxy: SyncStreamProxy) -> list[Any]:
        got = []
        for chunk in proxy:
            got.append(chunk)
            if len(got) == 10:
                break
        return got

    _, *rest = _both(ten, chunks=_stream_chunks())
    # The role chunk and 9 contents (27 characters: 7 output tokens estimated); the prompt's 4 tokens estimated.
    assert rest == [True, 10, 27, 4, 7, True, "chatcmpl-7", "gpt-4o-mini-2024-07-18", (), None, False]


def test_a_stream_failing_mid_way_fails_the_call() -> None:
    def until_it_fails(proxy: SyncStreamProxy) -> list[Any]:
        got = []
        with pytest.raises(ConnectionError):
            got.extend(proxy)
        return got

    ids, *rest = _both(until_it_fails, chunks=_stream_chunks(), fail_after=12)
    assert len(ids) == 12
    assert rest[:4] == [True, 12, 33, 4]
    assert rest[-2:] == ["ConnectionError", False]


def test_an_error_thrown_into_the_loop_is_not_the_streams() -> None:
    def thrown(proxy: SyncStreamProxy) -> list[Any]:
        loop = iter(proxy)
        got = [next(loop), next(loop)]
        with pytest.raises(KeyError):
            loop.throw(KeyError("the caller's"))
        return got

    _, *rest = _both(thrown, chunks=_stream_chunks())
    # The call is not failed by the caller's own error: it ends abandoned, with the 2 chunks it streamed.
    assert rest == [True, 2, 3, 4, 1, True, "chatcmpl-7", "gpt-4o-mini-2024-07-18", (), None, False]


# The prompt is estimated at 4 tokens: 8 tokens leave 16 characters (5 contents after the role chunk), 12 leave 32
# (10 contents); the content that passes them is counted, cuts the stream and is not delivered.
@pytest.mark.parametrize(("max_tokens", "delivered"), [(8, 6), (12, 11)])
def test_a_budget_cuts_the_stream_at_the_same_chunk(max_tokens: int, delivered: int) -> None:
    def started_in_scope(reader_class: type[ChatChunkReader]) -> Any:
        # The call starts inside the budget's scope (as an instrumented request does), the stream read there too.
        with synapsekit.budget(max_tokens=max_tokens, default_max_output_tokens=1):
            call = start_call("openai", "chat", MODEL, streamed=True, prompt=PROMPT)
            sdk_stream = SdkStream(_stream_chunks())
            proxy = SyncStreamProxy(sdk_stream, call, reader_class(call, True))
            got: list[Any] = []
            with pytest.raises(BudgetExceeded):
                got.extend(proxy)
        return _outcome(call, sdk_stream, got)

    own = started_in_scope(ChatChunkReader)
    assert own == started_in_scope(ProxysOwnLoop)
    ids, ended, chunks, chars, *_, error_type, closed = own
    assert (len(ids), ended, chunks, error_type, closed) == (
        delivered,
        True,
        delivered + 1,
        "BudgetExceeded",
        True,
    )
    assert chars == 3 * delivered


def test_our_failure_reading_a_chunk_is_reported_and_the_chunk_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = ChatChunkReader._full_text

    def failing_on_the_finish(self: ChatChunkReader, chunk: Any) -> str | bool:
        if chunk.choices and chunk.choices[0].finish_reason:
            raise RuntimeError("reader bug")
        return original(self, chunk)

    monkeypatch.setattr(ChatChunkReader, "_full_text", failing_on_the_finish)
    set_strict(False)
    try:
        ids, *rest = _both(_all, chunks=_stream_chunks())
    finally:
        set_strict(True)
    assert len(ids) == 34  # every chunk delivered, the finish among them, uncounted
    assert rest == [True, 33, 99, 4, 33, False, "chatcmpl-7", "gpt-4o-mini-2024-07-18", (), None, False]

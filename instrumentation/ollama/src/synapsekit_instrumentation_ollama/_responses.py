"""Ollama's answers: ``ChatResponse``/``GenerateResponse`` (whole, or streamed as NDJSON parts) and embeddings.

Ollama reports ``prompt_eval_count`` (input) and ``eval_count`` (output, thinking included) on its final
``done`` message only; it reports no cache or reasoning counts. A prompt Ollama found whole in its KV cache
comes back without ``prompt_eval_count``: that input count is then estimated from the prompt.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import AsyncStreamProxy, LLMCall, StreamReader, SyncStreamProxy


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def output_text(part: Any) -> str:
    """The output a chat message or a generate part carries: its text and its thinking."""
    message = getattr(part, "message", None)
    source = message if message is not None else part
    text = getattr(source, "content" if message is not None else "response", None)
    thinking = getattr(source, "thinking", None)
    return (text if isinstance(text, str) else "") + (thinking if isinstance(thinking, str) else "")


def record_final(call: LLMCall, part: Any) -> None:
    """The usage and finish reason of a whole answer or of a stream's ``done`` part."""
    call.record_usage(
        input_tokens=_int(getattr(part, "prompt_eval_count", None)),
        output_tokens=_int(getattr(part, "eval_count", None)),
    )
    reason = _str(getattr(part, "done_reason", None))
    call.record_response(
        model=_str(getattr(part, "model", None)), finish_reasons=(reason,) if reason else None
    )


def output_message(text: str, finish_reason: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message


def record_response(call: LLMCall, response: Any) -> None:
    if call.operation == "embeddings":
        # ``/api/embed`` reports its input count; the deprecated ``/api/embeddings`` none (then estimated).
        call.record_usage(input_tokens=_int(getattr(response, "prompt_eval_count", None)), output_tokens=0)
        call.record_response(model=_str(getattr(response, "model", None)))
        return
    record_final(call, response)
    if call.output_tokens is None:
        call.estimate_missing_usage(output_text(response))
    if call.capture_content:
        reason = call.finish_reasons[0] if call.finish_reasons else None
        call.output_messages = [output_message(output_text(response), reason)]


class _PartReader(StreamReader):
    """Reads each streamed part into the call; shared by the sync and async proxies."""

    __slots__ = ("text",)

    text: list[str] | None  # the streamed text, kept only when content capture is on

    def __init__(self, call: LLMCall) -> None:
        super().__init__(call)
        self.text = [] if call.capture_content else None

    def on_item(self, item: Any) -> bool:
        call = self.call
        if getattr(item, "done", False):
            record_final(call, item)
        elif call.response_model is None:
            call.record_response(model=_str(getattr(item, "model", None)))
        text = output_text(item)
        if text:
            call.chunk(text)
            if self.text is not None:
                self.text.append(text)
        return True

    def on_complete(self) -> None:
        call = self.call
        if self.text is not None:
            reason = call.finish_reasons[0] if call.finish_reasons else None
            call.output_messages = [output_message("".join(self.text), reason)]
        call.estimate_missing_usage()


class PartStream(SyncStreamProxy):
    """The generator of parts ``Client`` returns for ``stream=True``, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _PartReader(call))


class AsyncPartStream(AsyncStreamProxy):
    """The async generator of parts ``AsyncClient`` returns for ``stream=True``, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _PartReader(call))

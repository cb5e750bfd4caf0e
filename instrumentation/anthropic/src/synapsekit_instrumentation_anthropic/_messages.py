"""``POST /v1/messages``: what a Messages request asks for and what its response and events report.

Every way of sending a message ends in this one route: ``messages.create`` (plain and streamed),
``messages.parse``, the ``messages.stream()`` manager (which sends ``create(stream=True)``'s request when
entered), the beta resource (``/v1/messages?beta=true``), the ``with_raw_response`` /
``with_streaming_response`` views and ``client.post("/v1/messages", ...)``. ``/v1/messages/count_tokens``
and ``/v1/messages/batches`` are other routes: not calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapsekit_instrumentation_openai.stainless import Operation, RequestInfo
from synapsekit_instrumentation_openai.stainless.params import (
    ParamReader,
    integer,
    number,
    request_attributes,
    sequences,
)

from synapsekit import semconv
from synapsekit.plugin import StreamReader
from synapsekit_instrumentation_anthropic._request import (
    _texts,
    input_messages,
    output_messages,
    prompt_reader,
)
from synapsekit_instrumentation_anthropic._streams import MessageEventReader
from synapsekit_instrumentation_anthropic._usage import UsageCounts, field

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall


# The Messages request parameters the GenAI conventions name, read only when the call's span records (the
# SDK's own span, when it traces, records none of them).
MESSAGES_REQUEST_PARAMS: tuple[tuple[str, str, ParamReader], ...] = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE, number),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P, number),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K, integer),
    ("stop_sequences", semconv.GEN_AI_REQUEST_STOP_SEQUENCES, sequences),
)


class MessagesOperation(Operation):
    name = "chat"

    def describe(self, body: Mapping[str, Any]) -> RequestInfo:
        model, max_tokens = body.get("model"), body.get("max_tokens")
        return (
            model if isinstance(model, str) else None,
            max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else None,
            prompt_reader(body),
        )

    def request_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return request_attributes(body, MESSAGES_REQUEST_PARAMS)

    def input_messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        return input_messages(body)

    def record(self, call: LLMCall, result: Any) -> None:
        """A ``Message`` (or its JSON): usage with the cache folded in, model, id, stop reason."""
        usage = field(result, "usage")
        if usage is not None:
            counts = UsageCounts()
            counts.update(usage, final=True)
            counts.record(call)
        stop_reason = field(result, "stop_reason")
        model, response_id = field(result, "model"), field(result, "id")
        call.record_response(
            model=model if isinstance(model, str) else None,
            response_id=response_id if isinstance(response_id, str) else None,
            finish_reasons=(stop_reason,) if isinstance(stop_reason, str) else None,
        )
        if call.capture_content:
            call.output_messages = output_messages(
                _texts(field(result, "content")), stop_reason if isinstance(stop_reason, str) else None
            )

    def stream_reader(self, call: LLMCall, stream: Any, *, hide_usage: bool, is_async: bool) -> StreamReader:
        return MessageEventReader(call, stream)


MESSAGES = MessagesOperation()

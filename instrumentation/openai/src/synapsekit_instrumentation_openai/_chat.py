"""Chat completions: what a request asks for, what a response and its stream chunks report."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from synapsekit import semconv
from synapsekit.plugin import BudgetExceeded, StreamReader, report_internal_error

from ._chat_usage import read_usage_chunk_as_text, record_chat_usage
from ._fields import chat_messages, field, fields, messages_text, output_message
from .stainless import Operation, RequestInfo
from .stainless.params import (
    ParamReader,
    choice_count,
    integer,
    number,
    output_type,
    request_attributes,
    sequences,
    string,
)

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall, PromptParts

# The chat request parameters the GenAI conventions name, read only when the call's span records.
CHAT_REQUEST_PARAMS: tuple[tuple[str, str, ParamReader], ...] = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE, number),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P, number),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    ("seed", semconv.GEN_AI_REQUEST_SEED, integer),
    ("n", semconv.GEN_AI_REQUEST_CHOICE_COUNT, choice_count),
    ("stop", semconv.GEN_AI_REQUEST_STOP_SEQUENCES, sequences),
    ("response_format", semconv.GEN_AI_OUTPUT_TYPE, output_type),
    ("service_tier", semconv.OPENAI_REQUEST_SERVICE_TIER, string),
)
_CHAT_PARAM_NAMES = frozenset(parameter for parameter, _, _ in CHAT_REQUEST_PARAMS)
# What a response (or every chunk of its stream) says about how it was served, for the span.
_SERVED_BY = (
    ("service_tier", semconv.OPENAI_RESPONSE_SERVICE_TIER),
    ("system_fingerprint", semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
)

_COMPLETION_FIELDS = ("usage", "choices", "model", "id")


def note_served_by(call: LLMCall, response: Any) -> None:
    """The response's service tier and system fingerprint, for a span that records (``span_attributes``)."""
    span_attributes = call.span_attributes
    if span_attributes is None:
        return
    for name, attribute in _SERVED_BY:
        value = field(response, name)
        if type(value) is str and value:
            span_attributes[attribute] = value


# An SDK completion's fields read from its __dict__, all at once and in C (a pydantic model's attribute read
# passes pydantic's __getattr__ hook, which Python 3.11 does not specialise: ~500 instructions a read);
# fields() reads anything else (the plain dict of a raw body, a model without one of them in its __dict__).
_completion_items = itemgetter(*_COMPLETION_FIELDS)
_SERVED_BY_FIELDS = tuple(name for name, _ in _SERVED_BY)
_read_served_by = attrgetter(*_SERVED_BY_FIELDS)


def record_chat_completion(call: LLMCall, completion: Any) -> None:
    try:
        usage, choices, model, response_id = _completion_items(completion.__dict__)
    except (AttributeError, KeyError, TypeError):
        usage, choices, model, response_id = fields(completion, *_COMPLETION_FIELDS)
    if usage is not None:
        record_chat_usage(call, usage)
    reasons = []
    for choice in choices or ():
        # field() inlined: one call per choice on every response.
        reason = (
            choice.get("finish_reason") if type(choice) is dict else getattr(choice, "finish_reason", None)
        )
        if reason:
            reasons.append(reason)
    # call.record_response(...) in place: a call fewer on every response.
    if model:
        call.response_model = model
    if response_id:
        call.response_id = response_id
    if reasons:
        call.finish_reasons = tuple(reasons)
    span_attributes = call.span_attributes
    if span_attributes is not None:
        # note_served_by in place (in _SERVED_BY's order), an SDK model's two fields read in C.
        try:
            tier, fingerprint = _read_served_by(completion)
        except AttributeError:
            tier, fingerprint = fields(completion, *_SERVED_BY_FIELDS)
        if type(tier) is str and tier:
            span_attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
        if type(fingerprint) is str and fingerprint:
            span_attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    if call.capture_content:
        call.output_messages = [
            output_message("".join(content_of(field(choice, "message"))), field(choice, "finish_reason"))
            for choice in field(completion, "choices") or ()
        ]


def content_of(message: Any) -> list[str]:
    content = field(message, "content")
    return [content] if isinstance(content, str) else []


def _delta_text(delta: Any) -> str:
    """The text a chunk's delta carries: content, refusal and tool-call argument fragments."""
    content = delta.content
    text = content if isinstance(content, str) else ""
    refusal = getattr(delta, "refusal", None)
    if refusal:
        text += refusal
    tool_calls = delta.tool_calls
    if tool_calls:
        for tool_call in tool_calls:
            function = tool_call.function
            if function is not None and function.arguments:
                text += function.arguments
    return text


def _dict_delta_text(delta: Any) -> str:
    """:func:`_delta_text` of a raw chunk's plain-JSON delta."""
    if type(delta) is not dict:
        return ""
    content, refusal = delta.get("content"), delta.get("refusal")
    text = content if isinstance(content, str) else ""
    if isinstance(refusal, str):
        text += refusal
    for tool_call in delta.get("tool_calls") or ():
        arguments = field(field(tool_call, "function"), "arguments")
        if isinstance(arguments, str):
            text += arguments
    return text


class ChatChunkReader(StreamReader):
    """Reads one chat chunk into the call: an SDK ``ChatCompletionChunk``, or its plain JSON from a raw body."""

    __slots__ = ("finish_reasons", "hide_usage", "steady", "text")

    hide_usage: bool
    finish_reasons: tuple[str, ...]
    text: list[str] | None  # the streamed text, kept only when content capture is on
    # Whether a chunk of plain content is only its text: the response's model and id are recorded (the
    # first chunk's, or the usage chunk's taken from the bytes) and no text is kept. Set by every chunk read
    # in full.
    steady: bool

    def __init__(self, call: LLMCall, hide_usage: bool) -> None:
        super().__init__(call)
        self.hide_usage = hide_usage
        self.finish_reasons = ()
        self.text = [] if call.capture_content else None
        self.steady = False

    def on_item(self, chunk: Any) -> bool:
        # The proxy reads this reader through chunk_text; on_item is the same, for a caller of its own.
        text = self.chunk_text(chunk)
        if isinstance(text, str):
            self.call.chunk(text)
            return True
        return text

    def chunk_text(self, chunk: Any) -> str | bool:
        """The text of a chunk for the proxy to count; True delivers an item that is no chunk, False hides it."""
        # An SDK chunk's fields read from its models' __dict__: pydantic's __getattr__ hook keeps 3.11 from
        # specialising attribute reads on a model, and a dict subscript costs about a fifth of such a read (the
        # three models of a chunk: ~430 instructions less per chunk). Only reads here, no effects.
        #
        # Nearly every chunk of a stream is one choice of plain content, after the first: its text is all there
        # is to read (no usage, no finish reason, the response already recorded, no text kept). Anything else,
        # or anything not shaped like an SDK chunk, is read in full by _full_text, which gives the same answer
        # for such a chunk.
        if self.steady:
            try:
                fields = chunk.__dict__
                (choice,) = fields["choices"]
                if fields["usage"] is None:
                    fields = choice.__dict__
                    if fields["finish_reason"] is None and (delta := fields["delta"]) is not None:
                        fields = delta.__dict__
                        content = fields["content"]
                        if type(content) is str and not (fields["tool_calls"] or fields["refusal"]):
                            return content
            except (AttributeError, KeyError, TypeError, ValueError):
                pass
        return self._full_text(chunk)

    def sync_loop(self, proxy: Any) -> Iterator[Any]:
        """The items of a synchronous stream for a loop over ``proxy``, each counted as :meth:`chunk_text` counts it.

        The proxy's own loop (``streams._sync_chunks``) with :meth:`chunk_text`'s steady read in place: a loop over
        a stream is how nearly every caller reads one, and this saves a Python call per chunk and the checks of
        what ``chunk_text`` returned. A chunk that is not steady is read by :meth:`_full_text` and counted by
        ``call.chunk()``, which counts as the inline count does; the ends of the stream are handled as there.
        """
        iterator = self.iterator
        if iterator is None:
            iterator = self.iterator = iter(proxy.__wrapped__)
        call = self.call
        # As in _sync_chunks: whether a chunk may be counted here (the first one counted by chunk(), no chunk
        # times kept), and whether an exception is the stream's own (raised while an item was being drawn).
        counted_here = False
        drawing = True
        try:
            for chunk in iterator:
                drawing = False
                try:
                    text: str | None = None
                    if self.steady:  # chunk_text's steady read, in place
                        try:
                            fields = chunk.__dict__
                            (choice,) = fields["choices"]
                            if fields["usage"] is None:
                                fields = choice.__dict__
                                if fields["finish_reason"] is None and (delta := fields["delta"]) is not None:
                                    fields = delta.__dict__
                                    content = fields["content"]
                                    if type(content) is str and not (
                                        fields["tool_calls"] or fields["refusal"]
                                    ):
                                        text = content
                        except (AttributeError, KeyError, TypeError, ValueError):
                            pass
                    if text is None:
                        read = self._full_text(chunk)
                        if read is False:
                            drawing = True
                            continue
                        if read is not True:  # True: delivered, not counted as a chunk
                            call.chunk(read)
                            counted_here = call.chunk_times_ns is None
                    else:
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
                    report_internal_error("stream.on_item:ChatChunkReader", exc)
                yield chunk
                drawing = True
        except BaseException as exc:
            if drawing:
                call.fail(exc)
            raise
        proxy._self_complete()

    def _full_text(self, chunk: Any) -> str | bool:
        """:meth:`chunk_text` of any chunk. Anything not shaped like an SDK chunk (a field missing from
        ``__dict__``, plain JSON, another object) is read again by :meth:`_attribute_text`, exactly as before."""
        try:
            fields = chunk.__dict__
            usage = fields["usage"]
            choices = fields["choices"]
            if choices:
                text = ""
                reasons: tuple[str, ...] = ()
                for choice in choices:
                    fields = choice.__dict__
                    delta = fields["delta"]
                    reason = fields["finish_reason"]
                    if delta is not None:
                        fields = delta.__dict__
                        content = fields["content"]
                        if type(content) is str and not (fields["tool_calls"] or fields["refusal"]):
                            text += content  # the common chunk: plain content, no helper call
                        else:
                            text += _delta_text(delta)
                    if reason:
                        reasons += (reason,)
        except (AttributeError, KeyError, TypeError):
            return self._attribute_text(chunk)
        call = self.call
        if call.response_id is None:
            call.record_response(model=chunk.model, response_id=chunk.id)
            if call.span_attributes is not None:
                note_served_by(call, chunk)
        # Recorded here or earlier (the usage chunk taken from the bytes may come first). A response without an
        # id has every chunk read in full, as each may be the first to carry one.
        self.steady = call.response_id is not None and self.text is None
        if usage is not None:
            record_chat_usage(call, usage)
        if not choices:
            # The usage-only chunk we asked for on the caller's behalf: they would never have seen it.
            return not (usage is not None and self.hide_usage)
        if reasons:
            finish_reasons = self.finish_reasons = self.finish_reasons + reasons
            call.record_response(finish_reasons=finish_reasons)
        texts = self.text
        if texts is not None:
            texts.append(text)
        return text

    def _attribute_text(self, chunk: Any) -> str | bool:
        """:meth:`chunk_text` of a chunk read by its attributes (plain JSON handed to :meth:`_json_text`)."""
        # Plain JSON (a raw body, or client.post(..., stream_cls=Stream[object])) fails the first attribute
        # read, before anything is recorded.
        try:
            usage = chunk.usage
            choices = chunk.choices
        except AttributeError:
            if type(chunk) is dict:
                return self._json_text(chunk)
            # A chunk model without a ``usage`` field (some OpenAI-compatible SDKs' older versions): a usage
            # the server sent anyway is then an extra attribute of the model, or absent.
            usage, choices = getattr(chunk, "usage", None), getattr(chunk, "choices", None)
        call = self.call
        if call.response_id is None:
            call.record_response(model=chunk.model, response_id=chunk.id)
            if call.span_attributes is not None:
                note_served_by(call, chunk)
        if usage is not None:
            record_chat_usage(call, usage)
        if not choices:
            return not (usage is not None and self.hide_usage)
        text = ""
        for choice in choices:
            delta = choice.delta
            if delta is not None:
                text += _delta_text(delta)
            reason = choice.finish_reason
            if reason:
                finish_reasons = self.finish_reasons = (*self.finish_reasons, reason)
                call.record_response(finish_reasons=finish_reasons)
        texts = self.text
        if texts is not None:
            texts.append(text)
        return text

    def _json_text(self, chunk: dict[str, Any]) -> str | bool:
        call = self.call
        if call.response_id is None:
            model, response_id = chunk.get("model"), chunk.get("id")
            call.record_response(
                model=model if isinstance(model, str) else None,
                response_id=response_id if isinstance(response_id, str) else None,
            )
            if call.span_attributes is not None:
                note_served_by(call, chunk)
        usage = chunk.get("usage")
        if type(usage) is dict:
            record_chat_usage(call, usage)
        choices = chunk.get("choices")
        if not choices or type(choices) is not list:
            return not (type(usage) is dict and self.hide_usage)
        text = ""
        for choice in choices:
            if type(choice) is not dict:
                continue
            text += _dict_delta_text(choice.get("delta"))
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                finish_reasons = self.finish_reasons = (*self.finish_reasons, reason)
                call.record_response(finish_reasons=finish_reasons)
        texts = self.text
        if texts is not None:
            texts.append(text)
        return text

    def on_complete(self) -> None:
        call = self.call
        texts = self.text
        if texts is not None:
            finish_reasons = self.finish_reasons
            reason = finish_reasons[0] if finish_reasons else None
            call.output_messages = [output_message("".join(texts), reason)]
        call.estimate_missing_usage()


class ChatOperation(Operation):
    name = "chat"
    injects_stream_usage = True

    def describe(self, body: Mapping[str, Any]) -> RequestInfo:
        # str_param / int_param inlined: this runs on every request, and each helper call adds up.
        get = body.get
        model = get("model")
        max_tokens = get("max_completion_tokens")
        if type(max_tokens) is not int:
            max_tokens = get("max_tokens")
        messages = get("messages")
        prompt: str | partial[str | PromptParts]
        if (
            type(messages) is list
            and len(messages) == 1
            and type(message := messages[0]) is dict
            and type(content := message.get("content")) is str
        ):
            # One message with text content is its text (messages_text's first case, in place): a budget
            # reads its length without calling back, and building it costs no more than the partial.
            prompt = content
        else:
            # partial() rather than a lambda: calling it runs no frame of its own before messages_text's.
            prompt = partial(messages_text, messages)
        return (
            model if type(model) is str else None,
            max_tokens if type(max_tokens) is int else None,
            prompt,
        )

    def request_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        # Most requests set none of these parameters: asked in C (over the body's few keys) before any
        # per-parameter read.
        if _CHAT_PARAM_NAMES.isdisjoint(body):
            return {}
        return request_attributes(body, CHAT_REQUEST_PARAMS)

    def input_messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        return chat_messages(body.get("messages"))

    # The function itself rather than a method calling it: a call fewer on every response.
    record = staticmethod(record_chat_completion)  # type: ignore[assignment]

    def stream_reader(self, call: LLMCall, stream: Any, *, hide_usage: bool, is_async: bool) -> StreamReader:
        if hide_usage and stream is not None:
            read_usage_chunk_as_text(stream, call, is_async=is_async)
        return ChatChunkReader(call, hide_usage)


CHAT = ChatOperation()

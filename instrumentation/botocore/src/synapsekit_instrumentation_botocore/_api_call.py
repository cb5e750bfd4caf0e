"""The wrapper of ``BaseClient._make_api_call``: one LLM call per Bedrock runtime request.

Every boto3/botocore client method of every AWS service goes through ``_make_api_call(operation_name,
api_params)``; botocore's retries happen below it (in the endpoint), so each user call is one LLM call however
many attempts it took. Anything but the four model operations of ``bedrock-runtime`` passes straight through
after one dictionary lookup (and, for a matching operation name, one service-name comparison).

The request is read before it is sent (model id, output cap, prompt text) so budgets can refuse it with
nothing sent; the answer is read as botocore returns it: the parsed Converse usage, the InvokeModel body
(read at once and handed back as an equal ``StreamingBody``) or an event stream wrapped in a proxy. Provider
errors (``ClientError`` subclasses, transport errors) pass through unchanged; a failure of synapsekit's own
translation is reported and the request proceeds as if uninstrumented.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from synapsekit.plugin import LLMCall, report_internal_error, start_call
from synapsekit_instrumentation_botocore._families import (
    CHAT,
    EMBEDDINGS,
    Family,
    block_texts,
    family_of,
    message_texts,
    structured_messages,
    text_message,
)
from synapsekit_instrumentation_botocore._streams import ConverseEventStream, InvokeEventStream
from synapsekit_instrumentation_botocore._usage import (
    UsageCounts,
    count,
    update_converse,
    update_from_headers,
)

SERVICE = "bedrock-runtime"
PROVIDER = "aws.bedrock"

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Request:
    """What one request says about its call."""

    operation: str
    model: str | None
    max_output_tokens: int | None
    texts: Callable[[], Iterable[str]]  # the prompt text, read only when a budget or an estimate needs it
    family: Family | None = None  # InvokeModel only
    body: Mapping[str, Any] | None = None  # InvokeModel only: the decoded JSON body


def _model_id(params: Mapping[str, Any]) -> str | None:
    model = params.get("modelId")
    return model if isinstance(model, str) else None


def describe_converse(params: Mapping[str, Any]) -> Request:
    system, messages = params.get("system"), params.get("messages")
    return Request(
        operation=CHAT,
        model=_model_id(params),
        max_output_tokens=count(params.get("inferenceConfig"), "maxTokens"),
        texts=lambda: message_texts(system, messages),
    )


def _decoded_body(raw: Any) -> Mapping[str, Any]:
    # A file-like body is left unread: reading it would consume what botocore is about to send.
    if isinstance(raw, (bytes, bytearray, str)):
        try:
            document = json.loads(raw)
        except ValueError:
            return {}
        if isinstance(document, dict):
            return document
    return {}


def describe_invoke(params: Mapping[str, Any]) -> Request:
    model = _model_id(params)
    body = _decoded_body(params.get("body"))
    family = family_of(model or "", body)
    return Request(
        operation=family.operation,
        model=model,
        max_output_tokens=family.max_output_tokens(body),
        texts=lambda: family.prompt_texts(body),
        family=family,
        body=body,
    )


@dataclass(frozen=True)
class Operation:
    name: str
    describe: Callable[[Mapping[str, Any]], Request]
    streamed: bool
    reads_body: bool


CONVERSE = Operation("Converse", describe_converse, streamed=False, reads_body=False)
CONVERSE_STREAM = Operation("ConverseStream", describe_converse, streamed=True, reads_body=False)
INVOKE = Operation("InvokeModel", describe_invoke, streamed=False, reads_body=True)
INVOKE_STREAM = Operation("InvokeModelWithResponseStream", describe_invoke, streamed=True, reads_body=False)
OPERATIONS: dict[str, Operation] = {op.name: op for op in (CONVERSE, CONVERSE_STREAM, INVOKE, INVOKE_STREAM)}

_servers: dict[str, tuple[str | None, int | None]] = {}


def _server_of(client: Any) -> tuple[str | None, int | None]:
    url = client.meta.endpoint_url
    server = _servers.get(url)
    if server is None:
        parts = urlsplit(url)
        port = parts.port or (80 if parts.scheme == "http" else 443)
        server = _servers[url] = (parts.hostname, port) if parts.hostname else (None, None)
    return server


def _is_bedrock_runtime(client: Any) -> bool:
    try:
        return bool(client.meta.service_model.service_name == SERVICE)
    except Exception:
        return False  # not a client we know how to read: leave it alone


def _begin(operation: Operation, client: Any, params: Any) -> tuple[LLMCall, Request] | None:
    try:
        request = operation.describe(params if isinstance(params, Mapping) else {})
        host, port = _server_of(client)
    except Exception as exc:
        report_internal_error(f"botocore.request:{operation.name}", exc)
        return None
    texts = request.texts
    call = start_call(
        PROVIDER,
        request.operation,
        request.model,
        streamed=operation.streamed,
        server_address=host,
        server_port=port,
        max_output_tokens=request.max_output_tokens,
        prompt=lambda: "\n".join(texts()),
    )
    if call.capture_content:
        try:
            if request.family is None:
                call.input_messages = structured_messages(params.get("system"), params.get("messages"))
            else:
                call.input_messages = request.family.input_messages(request.body or {})
        except Exception as exc:
            report_internal_error(f"botocore.content:{operation.name}", exc)
    return call, request


def wrap_make_api_call(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    operation = OPERATIONS.get(args[0]) if len(args) == 2 else None
    if operation is None or not _is_bedrock_runtime(instance):
        return wrapped(*args, **kwargs)
    begun = _begin(operation, instance, args[1])
    if begun is None:
        return wrapped(*args, **kwargs)
    call, request = begun
    with call:
        response = wrapped(*args, **kwargs)
        # Read while in flight: a connection lost mid-body fails the call, as it fails the caller's read.
        body = _read_body(response) if operation.reads_body else None
    return _deliver(operation, request, call, response, body)


def _read_body(response: Any) -> bytes | None:
    """The InvokeModel answer's bytes, handed back to the caller as an equal, unread ``StreamingBody``."""
    try:
        streaming_body = response.get("body") if isinstance(response, dict) else None
        read = getattr(streaming_body, "read", None)
        if not callable(read):
            return None
    except Exception as exc:
        report_internal_error("botocore.read_body", exc)
        return None
    data = read()  # a transport error here is the caller's, unchanged
    try:
        from botocore.response import StreamingBody  # type: ignore[import-untyped]  # botocore ships no types

        response["body"] = StreamingBody(io.BytesIO(data), len(data))
    except Exception as exc:
        report_internal_error("botocore.read_body", exc)
        return None
    return data if isinstance(data, bytes) else None


def _deliver(operation: Operation, request: Request, call: LLMCall, response: Any, body: bytes | None) -> Any:
    try:
        if operation is CONVERSE_STREAM:
            return _wrap_stream(call, response, "stream", lambda stream: ConverseEventStream(stream, call))
        if operation is INVOKE_STREAM:
            family = request.family
            assert family is not None
            return _wrap_stream(
                call, response, "body", lambda stream: InvokeEventStream(stream, call, family)
            )
        if operation is CONVERSE:
            _settle_converse(call, response)
        else:
            _settle_invoke(call, request, response, body)
    except Exception as exc:
        report_internal_error(f"botocore.response:{operation.name}", exc)
        call.abandon()
    return response


def _wrap_stream(call: LLMCall, response: Any, key: str, proxy: Callable[[Any], Any]) -> Any:
    stream = response.get(key) if isinstance(response, dict) else None
    if stream is None:
        raise TypeError(f"a Bedrock stream answer without {key!r}")
    response[key] = proxy(stream)
    return response


def _finish(call: LLMCall, counts: UsageCounts, stop_reason: Any, texts: Iterable[str]) -> None:
    finish_reason = stop_reason if isinstance(stop_reason, str) else None
    call.record_response(finish_reasons=(finish_reason,) if finish_reason is not None else None)
    if call.capture_content:
        call.output_messages = [text_message("assistant", ["".join(texts)], finish_reason)]
    if counts.is_empty:
        call.abandon()  # no usage in the answer: estimated from the prompt
        return
    counts.record(call)
    call.estimate_missing_usage()
    call.finish()


def _settle_converse(call: LLMCall, response: Any) -> None:
    counts = UsageCounts()
    update_converse(counts, response.get("usage"))
    output = response.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    _finish(call, counts, response.get("stopReason"), block_texts(content))


def _settle_invoke(call: LLMCall, request: Request, response: Any, body: bytes | None) -> None:
    family = request.family
    assert family is not None
    counts = UsageCounts()
    texts: list[str] = []
    stop_reason: str | None = None
    document: Any = None
    if body:
        try:
            document = json.loads(body)
        except ValueError:
            document = None  # not JSON (an image model's bytes): the headers still count it
    if isinstance(document, dict):
        answer = family.read_answer(document, counts)
        texts, stop_reason = answer.texts, answer.stop_reason
        call.record_response(response_id=answer.response_id)
    metadata = response.get("ResponseMetadata")
    update_from_headers(counts, metadata.get("HTTPHeaders") if isinstance(metadata, Mapping) else None)
    if family.operation == EMBEDDINGS and counts.output is None and counts.input is not None:
        counts.output, counts.output_final = 0, True  # embeddings produce no output tokens
    _finish(call, counts, stop_reason, texts)

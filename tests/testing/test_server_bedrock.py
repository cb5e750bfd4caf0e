"""The LLM test server against the real boto3 ``bedrock-runtime`` client, and its event-stream encoder."""

from __future__ import annotations

import binascii
import contextlib
import json
import struct
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3.exceptions
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer

from synapsekit.testing import LLMTestServer
from synapsekit.testing._eventstream import encode_message, event_frame

TWELVE_WORDS = "Hello from the synapsekit test server: every word here is one token."
DELTAS = [word if i == 0 else f" {word}" for i, word in enumerate(TWELVE_WORDS.split())]
MESSAGES: list[Any] = [{"role": "user", "content": [{"text": "How are you today"}]}]  # 4 words
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PROFILE_ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
)
NOVA = "amazon.nova-lite-v1:0"
LLAMA = "meta.llama3-8b-instruct-v1:0"


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def client(server: LLMTestServer) -> Any:
    # One attempt: botocore retries throttling and 5xx errors by default.
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=server.bedrock_base_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


@contextlib.contextmanager
def sending(client: Any, **values: str) -> Iterator[None]:
    """boto3 has no per-call headers: add them to every request sent while the block runs."""

    def add_headers(request: Any, **_: Any) -> None:
        request.headers.update(values)

    client.meta.events.register("before-send.bedrock-runtime.*", add_headers)
    try:
        yield
    finally:
        client.meta.events.unregister("before-send.bedrock-runtime.*", add_headers)


def invoke_json(client: Any, model: str, body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    headers = {k: v for k, v in response["ResponseMetadata"]["HTTPHeaders"].items() if "bedrock" in k}
    return json.loads(response["body"].read()), headers


def stream_chunks(client: Any, model: str, body: dict[str, Any]) -> list[Any]:
    response = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


# -- the event-stream encoder ----------------------------------------------------------------------------


def test_encoded_messages_decode_with_botocore() -> None:
    buffer = EventStreamBuffer()
    first = encode_message({":event-type": "chunk", "x": "é"}, b'{"a":1}')
    second = encode_message({}, b"")
    buffer.add_data(first + second)
    decoded = list(buffer)
    assert [message.headers for message in decoded] == [{":event-type": "chunk", "x": "é"}, {}]
    assert [message.payload for message in decoded] == [b'{"a":1}', b""]
    assert len(second) == 16


def test_encoded_message_layout() -> None:
    payload = b"hello"
    data = encode_message({"k": "v"}, payload)
    total, headers_length, prelude_crc = struct.unpack(">III", data[:12])
    header = b"\x01k\x07\x00\x01v"
    assert (total, headers_length) == (len(data), len(header))
    assert prelude_crc == binascii.crc32(data[:8])
    assert data[12:-4] == header + payload
    assert struct.unpack(">I", data[-4:])[0] == binascii.crc32(data[:-4])


def test_event_frame_headers() -> None:
    frame = event_frame("contentBlockDelta", {"delta": {"text": "x"}}, is_content=True)
    buffer = EventStreamBuffer()
    buffer.add_data(frame.data)
    (message,) = list(buffer)
    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == {"delta": {"text": "x"}}
    assert frame.is_content


# -- converse --------------------------------------------------------------------------------------------


def test_converse_exact_usage_and_text(client: Any, server: LLMTestServer) -> None:
    response = client.converse(modelId=CLAUDE, messages=MESSAGES)
    assert response["output"]["message"] == {"role": "assistant", "content": [{"text": TWELVE_WORDS}]}
    assert response["stopReason"] == "end_turn"
    # No cache fields when nothing was read from or written to the cache, as on Bedrock.
    assert response["usage"] == {"inputTokens": 4, "outputTokens": 12, "totalTokens": 16}
    assert response["metrics"] == {"latencyMs": 0}
    assert response["ResponseMetadata"]["RequestId"] == "req_000000000000000000000001"
    request = server.requests[0]
    assert request.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=test/")
    assert request.json == {"messages": MESSAGES}


def test_converse_counts_system_and_every_text_block_and_caps(client: Any) -> None:
    response = client.converse(
        modelId=CLAUDE,
        system=[{"text": "Answer in French"}],
        messages=[
            {"role": "user", "content": [{"text": "one two"}, {"text": "three"}]},
            {"role": "assistant", "content": [{"text": "four"}]},
            {"role": "user", "content": [{"text": "five six"}]},
        ],
        inferenceConfig={"maxTokens": 3},
    )
    assert response["output"]["message"]["content"] == [{"text": "Hello from the"}]
    assert response["stopReason"] == "max_tokens"
    assert response["usage"] == {"inputTokens": 9, "outputTokens": 3, "totalTokens": 12}


def test_converse_cache_reads_and_writes_sit_beside_the_input(client: Any) -> None:
    overrides = {
        "x-test-input-tokens": "100",
        "x-test-cached-tokens": "60",
        "x-test-cache-creation-tokens": "30",
        "x-test-output-tokens": "2",
        "x-test-latency-ms": "3",
    }
    with sending(client, **overrides):
        response = client.converse(modelId=CLAUDE, messages=MESSAGES)
    assert response["usage"] == {
        "inputTokens": 10,
        "outputTokens": 2,
        "totalTokens": 102,
        "cacheReadInputTokens": 60,
        "cacheWriteInputTokens": 30,
    }
    assert response["metrics"] == {"latencyMs": 3}


def test_converse_stream_event_sequence(client: Any) -> None:
    response = client.converse_stream(modelId=CLAUDE, messages=MESSAGES)
    events = list(response["stream"])
    assert [next(iter(event)) for event in events] == [
        "messageStart",
        *["contentBlockDelta"] * 12,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert [event["contentBlockDelta"]["delta"]["text"] for event in events[1:13]] == DELTAS
    assert all(event["contentBlockDelta"]["contentBlockIndex"] == 0 for event in events[1:13])
    assert events[13]["contentBlockStop"] == {"contentBlockIndex": 0}
    assert events[14]["messageStop"] == {"stopReason": "end_turn"}
    assert events[15]["metadata"] == {
        "usage": {"inputTokens": 4, "outputTokens": 12, "totalTokens": 16},
        "metrics": {"latencyMs": 0},
    }


def test_converse_stream_capped_with_cache(client: Any) -> None:
    with sending(client, **{"x-test-cached-tokens": "3"}):
        response = client.converse_stream(modelId=CLAUDE, messages=MESSAGES, inferenceConfig={"maxTokens": 2})
    events = list(response["stream"])
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e) == (
        "Hello from"
    )
    assert events[-2]["messageStop"] == {"stopReason": "max_tokens"}
    assert events[-1]["metadata"]["usage"] == {
        "inputTokens": 1,
        "outputTokens": 2,
        "totalTokens": 6,
        "cacheReadInputTokens": 3,
    }


@pytest.mark.parametrize(
    ("model", "encoded"),
    [
        (PROFILE_ARN, "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1%3A0"),
    ],
)
def test_percent_encoded_model_ids_route(
    client: Any, server: LLMTestServer, model: str, encoded: str
) -> None:
    response = client.converse(modelId=model, messages=MESSAGES)
    assert response["usage"]["inputTokens"] == 4
    assert server.requests[0].path.startswith(f"/model/{encoded}")
    body, _ = invoke_json(
        client, model, {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": MESSAGES}
    )
    assert body["model"] == model


def test_converse_stream_drop_after_raises(client: Any) -> None:
    received: list[Any] = []
    with sending(client, **{"x-test-drop-after": "2"}):
        response = client.converse_stream(modelId=CLAUDE, messages=MESSAGES)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        received.extend(response["stream"])
    assert [next(iter(event)) for event in received] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
    ]


# -- invoke_model: Anthropic, Nova, Llama ----------------------------------------------------------------


ANTHROPIC_BODY: dict[str, Any] = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 100,
    "system": "Be brief",
    "messages": [{"role": "user", "content": "How are you today"}],
}


def test_invoke_anthropic_body_and_token_headers(client: Any) -> None:
    body, headers = invoke_json(client, CLAUDE, ANTHROPIC_BODY)
    assert body["id"] == "msg_bdrk_000000000000000000000001"
    assert (body["type"], body["role"], body["model"]) == ("message", "assistant", CLAUDE)
    assert body["content"] == [{"type": "text", "text": TWELVE_WORDS, "citations": None}]
    assert body["stop_reason"] == "end_turn"
    usage = body["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (6, 12)
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (0, 0)
    assert headers == {
        "x-amzn-bedrock-input-token-count": "6",
        "x-amzn-bedrock-output-token-count": "12",
        "x-amzn-bedrock-invocation-latency": "0",
    }


def test_invoke_anthropic_with_cache_reports_it_in_headers(client: Any) -> None:
    with sending(client, **{"x-test-cached-tokens": "4", "x-test-cache-creation-tokens": "1"}):
        body, headers = invoke_json(client, CLAUDE, ANTHROPIC_BODY)
    assert (body["usage"]["input_tokens"], body["usage"]["cache_read_input_tokens"]) == (1, 4)
    assert headers["x-amzn-bedrock-input-token-count"] == "1"
    assert headers["x-amzn-bedrock-cache-read-input-token-count"] == "4"
    assert headers["x-amzn-bedrock-cache-write-input-token-count"] == "1"


def test_invoke_anthropic_stream_relays_events_with_invocation_metrics(client: Any) -> None:
    with sending(client, **{"x-test-cached-tokens": "2"}):
        chunks = stream_chunks(client, PROFILE_ARN, {**ANTHROPIC_BODY, "max_tokens": 3})
    assert [chunk["type"] for chunk in chunks] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert chunks[0]["message"]["model"] == PROFILE_ARN
    assert chunks[0]["message"]["usage"]["input_tokens"] == 4
    assert [chunk["delta"]["text"] for chunk in chunks[2:5]] == DELTAS[:3]
    assert chunks[-2]["delta"]["stop_reason"] == "max_tokens"
    assert chunks[-2]["usage"]["output_tokens"] == 3
    assert chunks[-1]["amazon-bedrock-invocationMetrics"] == {
        "inputTokenCount": 4,
        "outputTokenCount": 3,
        "invocationLatency": 0,
        "firstByteLatency": 0,
        "cacheReadInputTokenCount": 2,
    }


NOVA_BODY: dict[str, Any] = {
    "schemaVersion": "messages-v1",
    "system": [{"text": "Be brief"}],
    "messages": MESSAGES,
    "inferenceConfig": {"maxTokens": 5},
}


def test_invoke_nova(client: Any) -> None:
    body, headers = invoke_json(client, NOVA, NOVA_BODY)
    assert body == {
        "output": {"message": {"content": [{"text": "Hello from the synapsekit test"}], "role": "assistant"}},
        "stopReason": "max_tokens",
        "usage": {
            "inputTokens": 6,
            "outputTokens": 5,
            "totalTokens": 11,
            "cacheReadInputTokenCount": 0,
            "cacheWriteInputTokenCount": 0,
        },
    }
    assert headers["x-amzn-bedrock-input-token-count"] == "6"
    assert headers["x-amzn-bedrock-output-token-count"] == "5"


def test_invoke_nova_stream(client: Any) -> None:
    chunks = stream_chunks(client, "us.amazon.nova-pro-v1:0", {**NOVA_BODY, "inferenceConfig": {}})
    assert chunks[0] == {"messageStart": {"role": "assistant"}}
    assert [chunk["contentBlockDelta"]["delta"]["text"] for chunk in chunks[1:13]] == DELTAS
    assert chunks[13] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert chunks[14] == {"messageStop": {"stopReason": "end_turn"}}
    usage = {
        "inputTokens": 6,
        "outputTokens": 12,
        "totalTokens": 18,
        "cacheReadInputTokenCount": 0,
        "cacheWriteInputTokenCount": 0,
    }
    assert chunks[15] == {
        "metadata": {"usage": usage, "metrics": {}, "trace": {}},
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": 6,
            "outputTokenCount": 12,
            "invocationLatency": 0,
            "firstByteLatency": 0,
        },
    }


def test_invoke_llama(client: Any) -> None:
    body, headers = invoke_json(client, LLAMA, {"prompt": "How are you today", "max_gen_len": 2})
    assert body == {
        "generation": "Hello from",
        "prompt_token_count": 4,
        "generation_token_count": 2,
        "stop_reason": "length",
    }
    assert headers["x-amzn-bedrock-input-token-count"] == "4"


def test_invoke_llama_stream_counts_in_every_chunk(client: Any) -> None:
    with sending(client, **{"x-test-output-tokens": "3", "x-test-cached-tokens": "2"}):
        chunks = stream_chunks(client, "us.meta.llama3-2-3b-instruct-v1:0", {"prompt": "How are you today"})
    assert chunks == [
        {"generation": "Hello", "prompt_token_count": 4, "generation_token_count": 1, "stop_reason": None},
        {"generation": " from", "prompt_token_count": None, "generation_token_count": 2, "stop_reason": None},
        {"generation": " the", "prompt_token_count": None, "generation_token_count": 3, "stop_reason": None},
        {
            "generation": "",
            "prompt_token_count": None,
            "generation_token_count": 3,
            "stop_reason": "stop",
            # Llama has no prompt cache: no cache counts, whatever the headers say.
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 4,
                "outputTokenCount": 3,
                "invocationLatency": 0,
                "firstByteLatency": 0,
            },
        },
    ]


def test_an_arn_without_a_family_is_recognised_by_its_body(client: Any) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
    assert invoke_json(client, arn, {"prompt": "one two"})[0]["prompt_token_count"] == 2
    assert invoke_json(client, arn, NOVA_BODY)[0]["usage"]["inputTokens"] == 6
    assert invoke_json(client, arn, ANTHROPIC_BODY)[0]["usage"]["input_tokens"] == 6


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "ThrottlingException"),
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (404, "ResourceNotFoundException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
    ],
)
def test_status_header_raises_the_modelled_exception(client: Any, status: int, code: str) -> None:
    error_class = getattr(client.exceptions, code)
    with sending(client, **{"x-test-status": str(status)}), pytest.raises(error_class) as caught:
        client.converse(modelId=CLAUDE, messages=MESSAGES)
    error = caught.value.response
    assert error["Error"] == {
        "Code": code,
        "Message": f"Injected failure: HTTP {status} (x-test-status header).",
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize("operation", ["converse_stream", "invoke_model_with_response_stream"])
def test_fail_next_on_streams(client: Any, server: LLMTestServer, operation: str) -> None:
    server.fail_next(429)
    arguments: dict[str, Any] = (
        {"messages": MESSAGES} if operation == "converse_stream" else {"body": json.dumps(ANTHROPIC_BODY)}
    )
    with pytest.raises(client.exceptions.ThrottlingException):
        getattr(client, operation)(modelId=CLAUDE, **arguments)
    assert server.request_count == 1


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (CLAUDE, {"max_tokens": 5, "messages": MESSAGES}, "required key [anthropic_version] not found"),
        ("cohere.command-r-v1:0", {"message": "hi"}, "does not know the InvokeModel body"),
        (NOVA, {"messages": []}, "expected minimum item count: 1"),
    ],
)
def test_bad_invoke_bodies_are_validation_errors(client: Any, model: str, body: Any, message: str) -> None:
    with pytest.raises(client.exceptions.ValidationException, match=message.replace("[", r"\[")):
        client.invoke_model(modelId=model, body=json.dumps(body))


def test_converse_without_messages_is_a_validation_error(client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException):
        client.converse(modelId=CLAUDE, messages=[])

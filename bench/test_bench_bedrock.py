"""Bedrock (botocore) instrumentation overhead: the bare SDK against the instrumented one, in the same run.

A ``before-send`` hook answers every request with canned bytes, so what is measured is botocore's own work
(serialising, signing, parsing, event-stream decoding) plus synapsekit's, without a network. Per-call: one
``converse`` and one ``invoke_model`` (Anthropic body). Per-chunk: a ``converse_stream`` of ``STREAM_DELTAS``
deltas read to the end. Pass-through: an STS call, which the instrumentation must leave (nearly) untouched.

Run: ``uv run --frozen pytest bench/test_bench_bedrock.py --benchmark-enable``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from pytest_benchmark.fixture import BenchmarkFixture

import synapsekit
from synapsekit.testing._eventstream import encode_message

MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
STREAM_DELTAS = 200
MESSAGES = [{"role": "user", "content": [{"text": "one two three four five"}]}]
USAGE = {"inputTokens": 5, "outputTokens": 2, "totalTokens": 10, "cacheReadInputTokens": 3}

CONVERSE_BODY = json.dumps(
    {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello there"}]}},
        "stopReason": "end_turn",
        "usage": USAGE,
        "metrics": {"latencyMs": 1},
    }
).encode()
INVOKE_BODY = json.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "Hello there"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 3},
    }
).encode()


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload).encode())


STREAM_BODY = b"".join(
    [
        _event("messageStart", {"role": "assistant"}),
        *(
            _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " word"}})
            for _ in range(STREAM_DELTAS)
        ),
        _event("contentBlockStop", {"contentBlockIndex": 0}),
        _event("messageStop", {"stopReason": "end_turn"}),
        _event("metadata", {"usage": {**USAGE, "outputTokens": STREAM_DELTAS}, "metrics": {"latencyMs": 1}}),
    ]
)
STS_BODY = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    b"<Arn>arn:aws:iam::123456789012:user/bench</Arn><UserId>AIDABENCH</UserId>"
    b"<Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
)


class _Raw:
    """The bits of a urllib3 response botocore reads: ``stream()``, ``read()``, ``close()``."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._buffer.read()

    def read(self, amt: int | None = None) -> bytes:
        return self._buffer.read(amt)

    def close(self) -> None:
        pass


def _answer(request: Any, **_: Any) -> AWSResponse:
    url: str = request.url
    if url.endswith("/converse"):
        body, content_type = CONVERSE_BODY, "application/json"
    elif url.endswith("/converse-stream"):
        body, content_type = STREAM_BODY, "application/vnd.amazon.eventstream"
    elif url.endswith("/invoke"):
        body, content_type = INVOKE_BODY, "application/json"
    else:
        body, content_type = STS_BODY, "text/xml"
    headers = {"content-type": content_type, "content-length": str(len(body)), "x-amzn-requestid": "bench"}
    return AWSResponse(url, 200, headers, _Raw(body))


def _client(service: str) -> Any:
    client = boto3.client(
        service, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    client.meta.events.register(f"before-send.{client.meta.service_model.service_id.hyphenize()}.*", _answer)
    return client


@pytest.fixture(scope="module")
def bedrock() -> Any:
    return _client("bedrock-runtime")


@pytest.fixture(scope="module")
def sts() -> Any:
    return _client("sts")


@pytest.fixture(scope="module", autouse=True)
def _warm_pricing() -> None:
    # Load the price data outside the measurement (a one-off per process, then a cached lookup).
    from synapsekit._pricing.prices import compute_cost

    compute_cost("aws.bedrock", MODEL, input_tokens=1, output_tokens=1)


@pytest.fixture(params=["bare_sdk", "synapsekit"])
def variant(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "synapsekit":
        synapsekit.instrument("botocore")
    yield request.param
    synapsekit.uninstrument("botocore")


@pytest.mark.benchmark(group="bedrock-converse-per-call", min_rounds=100, warmup=True)
def test_converse(benchmark: BenchmarkFixture, bedrock: Any, variant: str) -> None:
    response = benchmark(lambda: bedrock.converse(modelId=MODEL, messages=MESSAGES))
    assert response["usage"]["outputTokens"] == 2


@pytest.mark.benchmark(group="bedrock-invoke-per-call", min_rounds=100, warmup=True)
def test_invoke_model(benchmark: BenchmarkFixture, bedrock: Any, variant: str) -> None:
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": MESSAGES})

    def invoke() -> bytes:
        data: bytes = bedrock.invoke_model(modelId=MODEL, body=body)["body"].read()
        return data

    assert benchmark(invoke) == INVOKE_BODY


@pytest.mark.benchmark(group="bedrock-per-chunk", min_rounds=50, warmup=True)
def test_converse_stream(benchmark: BenchmarkFixture, bedrock: Any, variant: str) -> None:
    def read_stream() -> int:
        stream = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
        return sum(1 for event in stream if "contentBlockDelta" in event)

    assert benchmark(read_stream) == STREAM_DELTAS


@pytest.mark.benchmark(group="aws-other-service-pass-through", min_rounds=100, warmup=True)
def test_other_service(benchmark: BenchmarkFixture, sts: Any, variant: str) -> None:
    response = benchmark(sts.get_caller_identity)
    assert response["Account"] == "123456789012"

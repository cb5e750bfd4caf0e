"""Instrumenting and uninstrumenting botocore exactly; other AWS services pass through untouched."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import boto3
import pytest
from _bedrock_testkit import CLAUDE, MESSAGES, anthropic_body
from botocore.client import BaseClient
from botocore.response import StreamingBody
from botocore.stub import Stubber
from synapsekit_instrumentation_botocore import BotocoreInstrumentor

import synapsekit
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import CallRecorder, LLMTestServer


def aws_client(service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def test_registered_under_the_entry_point_group() -> None:
    [entry_point] = [
        ep
        for ep in importlib.metadata.entry_points(group="synapsekit.instrumentors")
        if ep.name == "botocore"
    ]
    assert entry_point.load() is BotocoreInstrumentor
    assert BotocoreInstrumentor().dependency_conflict() is None


def test_uninstrument_puts_back_the_exact_original(client: Any, sink: CallRecorder) -> None:
    original = BaseClient.__dict__["_make_api_call"]
    assert not is_synapsekit_wrapper(original)
    assert synapsekit.instrument("botocore") == ["botocore"]
    assert synapsekit.instrument("botocore") == ["botocore"]  # idempotent: one wrapper, not two
    patched = BaseClient.__dict__["_make_api_call"]
    assert is_synapsekit_wrapper(patched)
    assert not is_synapsekit_wrapper(patched.__wrapped__)
    client.converse(modelId=CLAUDE, messages=MESSAGES)
    synapsekit.uninstrument("botocore")
    assert BaseClient.__dict__["_make_api_call"] is original
    client.converse(modelId=CLAUDE, messages=MESSAGES)
    assert len(sink.ended) == 1
    synapsekit.instrument("botocore")
    try:
        client.converse(modelId=CLAUDE, messages=MESSAGES)  # a client made before instrumenting is covered
    finally:
        synapsekit.uninstrument("botocore")
    assert len(sink.ended) == 2


@pytest.mark.usefixtures("instrumented")
def test_other_services_pass_through_untouched(sink: CallRecorder) -> None:
    sts = aws_client("sts")
    identity = {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/test", "UserId": "AIDATEST"}
    with Stubber(sts) as stub:
        stub.add_response("get_caller_identity", identity)
        answer = sts.get_caller_identity()
    assert {key: answer[key] for key in identity} == identity
    assert sink.ended == []


@pytest.mark.usefixtures("instrumented")
def test_other_bedrock_operations_pass_through(sink: CallRecorder) -> None:
    bedrock = aws_client("bedrock-runtime")
    if "ListAsyncInvokes" not in bedrock.meta.service_model.operation_names:
        pytest.skip("this botocore's bedrock-runtime has no operation besides the four model calls")
    with Stubber(bedrock) as stub:
        stub.add_response("list_async_invokes", {"asyncInvokeSummaries": []})
        bedrock.list_async_invokes()
    assert sink.ended == []


@pytest.mark.usefixtures("instrumented")
def test_stubbed_answers_are_counted_too(sink: CallRecorder) -> None:
    # botocore's Stubber answers from a before-call hook, inside _make_api_call: users' tests see their counts.
    bedrock = aws_client("bedrock-runtime")
    body = json.dumps(
        {"id": "msg_1", "content": [], "usage": {"input_tokens": 3, "output_tokens": 4}}
    ).encode()
    with Stubber(bedrock) as stub:
        stub.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
                "metrics": {"latencyMs": 1},
            },
        )
        stub.add_response(
            "invoke_model",
            {"body": StreamingBody(io.BytesIO(body), len(body)), "contentType": "application/json"},
        )
        bedrock.converse(modelId=CLAUDE, messages=MESSAGES)
        answer = bedrock.invoke_model(modelId=CLAUDE, body=json.dumps(anthropic_body()))
        assert answer["body"].read() == body
    assert [(call.input_tokens, call.output_tokens) for call in sink.ended] == [(5, 2), (3, 4)]
    assert sink.ended[1].response_id == "msg_1"


@pytest.mark.usefixtures("instrumented")
def test_unknown_families_are_counted_from_bedrocks_headers(sink: CallRecorder) -> None:
    # Titan embeddings: a body synapsekit does not read; InvokeModel answers always carry Bedrock's counts.
    bedrock = aws_client("bedrock-runtime")
    body = json.dumps({"embedding": [0.1, 0.2], "inputTextTokenCount": 4}).encode()
    headers = {"x-amzn-bedrock-input-token-count": "4", "x-amzn-bedrock-invocation-latency": "3"}
    with Stubber(bedrock) as stub:
        stub.add_response(
            "invoke_model",
            {
                "body": StreamingBody(io.BytesIO(body), len(body)),
                "contentType": "application/json",
                "ResponseMetadata": {"HTTPHeaders": headers},
            },
        )
        answer = bedrock.invoke_model(
            modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "a b c"})
        )
        assert json.loads(answer["body"].read())["inputTextTokenCount"] == 4
    call = sink.only
    assert (call.operation, call.input_tokens, call.output_tokens, call.usage_estimated) == (
        "embeddings",
        4,
        0,
        False,
    )
    assert call.prompt_text == "a b c"


_SCRIPT = """
import sys
import synapsekit
from synapsekit._core.errors import set_strict
set_strict(True)
{before}
import boto3
from botocore.config import Config
{after}
with synapsekit.track() as tally:
    client = boto3.client("bedrock-runtime", endpoint_url={base_url!r}, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="k",
                          config=Config(retries={{"total_max_attempts": 1}}))
    client.converse(modelId="amazon.nova-lite-v1:0", messages=[{{"role": "user", "content": [{{"text": "a b c"}}]}}])
print(tally.calls, tally.input_tokens, tally.output_tokens)
"""


@pytest.mark.parametrize("when", ["before-import", "after-import"])
def test_instrument_before_or_after_importing_boto3(server: LLMTestServer, when: str) -> None:
    instrument = 'synapsekit.instrument("botocore")'
    before_import = when == "before-import"
    script = _SCRIPT.format(
        before=f'{instrument}\nassert "botocore" not in sys.modules' if before_import else "",
        after="" if before_import else instrument,
        base_url=server.bedrock_base_url,
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYNAPSEKIT_STRICT": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "3", "12"]

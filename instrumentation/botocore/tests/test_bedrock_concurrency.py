"""Concurrent Bedrock calls from threads: each counted once, into the scopes of the thread that sent it."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from _bedrock_testkit import CLAUDE, LLAMA, MESSAGES, llama_body, make_client

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

CALLS = 40


def one_call(client: Any, index: int) -> tuple[int, int]:
    """Converse, a Converse stream or a Llama stream, capped at ``index % 7 + 1`` output tokens."""
    cap = index % 7 + 1
    with synapsekit.track() as own:
        if index % 3 == 0:
            client.converse(modelId=CLAUDE, messages=MESSAGES, inferenceConfig={"maxTokens": cap})
        elif index % 3 == 1:
            stream = client.converse_stream(
                modelId=CLAUDE, messages=MESSAGES, inferenceConfig={"maxTokens": cap}
            )
            list(stream["stream"])
        else:
            body = json.dumps(llama_body(max_gen_len=cap))
            list(client.invoke_model_with_response_stream(modelId=LLAMA, body=body)["body"])
    return own.calls, own.output_tokens


def test_threads_share_one_client(server: LLMTestServer, sink: CallRecorder) -> None:
    client = make_client(server)  # boto3 clients are thread-safe; creating them is not
    with synapsekit.track() as everything, synapsekit.ContextThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: one_call(client, i), range(CALLS)))
    assert results == [(1, index % 7 + 1) for index in range(CALLS)]
    expected_output = sum(index % 7 + 1 for index in range(CALLS))
    assert (everything.calls, everything.input_tokens, everything.output_tokens) == (
        CALLS,
        7 * CALLS,
        expected_output,
    )
    assert (everything.failed_calls, everything.estimated_calls) == (0, 0)
    assert len(sink.ended) == CALLS
    assert server.request_count == CALLS


def test_a_thread_without_the_context_stays_out_of_the_callers_scope(server: LLMTestServer) -> None:
    client = make_client(server)
    seen: list[tuple[int, int]] = []
    with synapsekit.track() as outer:
        worker = threading.Thread(target=lambda: seen.append(one_call(client, 0)))
        worker.start()
        worker.join()
    assert seen == [(1, 1)]
    assert outer.calls == 0

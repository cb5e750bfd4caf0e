"""Provider errors reach the caller unchanged (the SDK's own exception), counted as failed calls with no cost."""

from __future__ import annotations

from typing import Any

import pytest
from _gemini_testkit import EMBEDDING_MODEL, MODEL, PROMPT, config, generate, generate_async
from google import genai
from google.genai import errors

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

MODES = ["generate", "stream"]
STATUSES = [
    (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
    (400, errors.ClientError, "INVALID_ARGUMENT"),
    (500, errors.ServerError, "INTERNAL"),
    (503, errors.ServerError, "UNAVAILABLE"),
]


def assert_failed(
    sink: CallRecorder, tally: Any, caught: pytest.ExceptionInfo[Any], error_class: type
) -> None:
    [call] = sink.ended
    assert call.error is caught.value  # the very exception the caller got
    assert (call.error_type, call.input_tokens, call.output_tokens, call.cost) == (
        error_class.__qualname__,
        0,
        0,
        0,
    )
    assert (tally.calls, tally.failed_calls, tally.cost_usd) == (1, 1, 0.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("status", "error_class", "status_name"), STATUSES)
def test_status_errors_pass_through(
    any_client: genai.Client,
    sink: CallRecorder,
    mode: str,
    status: int,
    error_class: type[errors.APIError],
    status_name: str,
) -> None:
    with synapsekit.track() as tally, pytest.raises(error_class) as caught:
        generate(any_client, mode, config=config({"x-test-status": str(status)}))
    assert (type(caught.value), caught.value.code, caught.value.status) == (error_class, status, status_name)
    assert caught.value.message == f"Injected failure: HTTP {status} (x-test-status header)."
    assert_failed(sink, tally, caught, error_class)


@pytest.mark.parametrize("mode", MODES)
async def test_async_errors_pass_through(
    any_client: genai.Client, server: LLMTestServer, sink: CallRecorder, mode: str
) -> None:
    server.fail_next(429, retry_after=3)
    with synapsekit.track() as tally, pytest.raises(errors.ClientError) as caught:
        await generate_async(any_client, mode)
    assert (type(caught.value), caught.value.code) == (errors.ClientError, 429)
    assert caught.value.response.headers["retry-after"] == "3"
    assert_failed(sink, tally, caught, errors.ClientError)
    assert server.request_count == 1


def test_embedding_errors_pass_through(client: genai.Client, sink: CallRecorder) -> None:
    with synapsekit.track() as tally, pytest.raises(errors.ServerError) as caught:
        client.models.embed_content(
            model=EMBEDDING_MODEL, contents="one two", config=config({"x-test-status": "500"})
        )
    assert_failed(sink, tally, caught, errors.ServerError)


def test_the_next_request_after_an_error_is_counted(
    client: genai.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    server.fail_next(503)
    with pytest.raises(errors.ServerError):
        client.models.generate_content(model=MODEL, contents=PROMPT)
    client.models.generate_content(model=MODEL, contents=PROMPT)
    assert [(call.error_type, call.input_tokens, call.output_tokens) for call in sink.ended] == [
        ("ServerError", 0, 0),
        (None, 4, 12),
    ]

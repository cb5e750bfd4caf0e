"""Every way of sending a message through the anthropic SDK is one call, read at the request pipeline.

``client.post(...)``, the beta resource, raw and lazily read responses (langchain-anthropic streams through
``messages.with_raw_response.create(stream=True)`` and ``.parse()``), retries inside the SDK and a budget
that refuses before anything is sent — each counted exactly once with the server's usage and one span.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import anthropic._base_client
import httpx2
import pytest
from _anthropic_testkit import MODEL, RecordingSink, request
from anthropic.types import Message

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit.testing import LLMTestServer, collect_garbage, completion_text

pytestmark = pytest.mark.usefixtures("instrumented")

SDK_TRACES = callable(getattr(anthropic._base_client, "start_api_call_span", None))
BODY: dict[str, Any] = {k: v for k, v in request().items() if k != "extra_headers"}
CACHE_HEADERS: dict[str, str] = request()["extra_headers"]


def assert_exact(call: Any, *, streamed: bool) -> None:
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "anthropic",
        "chat",
        MODEL,
        MODEL,
    )
    # 2 uncached + 3 cache reads + 2 cache writes, as the GenAI conventions count input.
    assert (call.input_tokens, call.cached_input_tokens, call.cache_creation_input_tokens) == (7, 3, 2)
    assert (call.output_tokens, call.usage_estimated, call.error_type) == (12, False, None)
    assert (call.streamed, call.chunks, call.finish_reasons) == (
        streamed,
        12 if streamed else 0,
        ("end_turn",),
    )
    assert call.response_id is not None and call.response_id.startswith("msg_")


def text_of(events: list[Any]) -> str:
    return "".join(event.delta.text for event in events if event.type == "content_block_delta")


# -- client.post and the beta resource -------------------------------------------------------------------------
def test_post_is_counted(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    message = client.post("/v1/messages", body=BODY, cast_to=Message, options={"headers": CACHE_HEADERS})
    assert isinstance(message, Message)
    assert_exact(sink.only, streamed=False)


async def test_async_post_of_plain_json_is_counted(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    message = await async_client.post(
        "/v1/messages", body=BODY, cast_to=object, options={"headers": CACHE_HEADERS}
    )
    assert isinstance(message, dict)
    assert_exact(sink.only, streamed=False)


def test_beta_messages_are_counted(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    client.beta.messages.create(**request())
    events = list(client.beta.messages.create(stream=True, **request()))
    assert text_of(events) == completion_text(12)
    first, second = sink.ended
    assert_exact(first, streamed=False)
    assert_exact(second, streamed=True)


def test_count_tokens_is_not_a_call(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    # The test server has no count_tokens route (a 404); what matters is that no call was counted.
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model=MODEL, messages=BODY["messages"])
    assert sink.ended == []


# -- langchain-anthropic: messages.with_raw_response.create(stream=True), then .parse() ----------------------
def test_raw_stream_then_parse_is_counted_once_exactly(
    client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    raw = client.messages.with_raw_response.create(stream=True, **request())
    assert sink.ended == []  # the stream is the caller's to read
    stream = raw.parse()
    assert isinstance(stream, anthropic.Stream)
    assert text_of(list(stream)) == completion_text(12)
    assert_exact(sink.only, streamed=True)


async def test_async_raw_stream_then_parse_is_counted_once_exactly(
    async_client: anthropic.AsyncAnthropic, sink: RecordingSink
) -> None:
    raw = await async_client.messages.with_raw_response.create(stream=True, **request())
    parsed = raw.parse()
    stream = await parsed if hasattr(parsed, "__await__") else parsed
    assert isinstance(stream, anthropic.AsyncStream)
    assert text_of([event async for event in stream]) == completion_text(12)
    assert_exact(sink.only, streamed=True)


def test_streaming_response_of_a_stream_read_as_lines(
    client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    with client.messages.with_streaming_response.create(stream=True, **request()) as response:
        lines = list(response.iter_lines())
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert [event["type"] for event in events][:2] == ["message_start", "content_block_start"]
    assert events[-1]["type"] == "message_stop"
    assert_exact(sink.only, streamed=True)


def test_raw_stream_broken_out_of_is_estimated_once(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    stream = client.messages.with_raw_response.create(stream=True, **request()).parse()
    for index, _event in enumerate(stream):
        if index == 3:  # message_start, content_block_start, "Hello", " from"
            break
    stream.close()
    collect_garbage()
    call = sink.only
    # The input side came with message_start; the output is estimated from "Hello from" (10 characters).
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.error_type) == (
        7,
        3,
        True,
        None,
    )


def test_raw_stream_dropped_unread_is_estimated_once(
    client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    raw = client.messages.with_raw_response.create(stream=True, **request())
    del raw
    collect_garbage()
    call = sink.only
    # Estimated from the prompt: 33 characters, 4 per token.
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (9, 0, True)


def test_raw_stream_dropped_connection_fails_the_billed_call(
    client: anthropic.Anthropic, sink: RecordingSink
) -> None:
    raw = client.messages.with_raw_response.create(
        stream=True, **request(extra_headers={"x-test-drop-after": "2"})
    )
    with pytest.raises(httpx2.RemoteProtocolError) as raised:
        list(raw.parse())
    call = sink.only
    assert call.error is raised.value
    # message_start reported the input (billed); two words streamed, "Hello from" → 3 tokens.
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (7, 3, True)


# -- retries -----------------------------------------------------------------------------------------------------
def test_a_retried_request_is_one_call(server: LLMTestServer, sink: RecordingSink) -> None:
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=2) as retrying:
        server.fail_next(529, count=2, retry_after=0.01)
        retrying.messages.create(**request())
    assert server.request_count == 3
    assert_exact(sink.only, streamed=False)


async def test_a_retried_async_stream_is_one_call(server: LLMTestServer, sink: RecordingSink) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=server.anthropic_base_url, api_key="k", max_retries=1
    ) as retrying:
        server.fail_next(429, retry_after=0.01)
        async with retrying.messages.stream(**request()) as stream:
            await stream.until_done()
    assert server.request_count == 2
    assert_exact(sink.only, streamed=True)


def test_retries_exhausted_is_one_failed_call_costing_nothing(
    server: LLMTestServer, sink: RecordingSink
) -> None:
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=1) as retrying:
        server.fail_next(500, count=2, retry_after=0.01)
        with pytest.raises(anthropic.InternalServerError) as raised:
            retrying.messages.create(**request())
    call = sink.only
    assert call.error is raised.value
    assert (call.input_tokens, call.output_tokens, call.cost) == (0, 0, 0)


# -- budgets refuse before anything leaves ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda c: c.post("/v1/messages", body=BODY, cast_to=object), id="post"),
        pytest.param(
            lambda c: c.messages.with_raw_response.create(stream=True, **request()), id="raw-stream"
        ),
        pytest.param(
            lambda c: c.messages.with_streaming_response.create(**request()).__enter__(),
            id="with_streaming_response",
        ),
        pytest.param(lambda c: c.beta.messages.create(**request()), id="beta"),
    ],
)
def test_a_too_small_budget_refuses_with_no_request_sent(
    client: anthropic.Anthropic, server: LLMTestServer, sink: RecordingSink, send: Any
) -> None:
    with synapsekit.budget(max_tokens=1), pytest.raises(BudgetExceeded):
        send(client)
    assert server.request_count == 0
    assert sink.only.rejected is True


# -- spans ---------------------------------------------------------------------------------------------------------
def test_one_span_per_request_whatever_the_way_it_was_sent(
    client: anthropic.Anthropic, sink: RecordingSink, span_exporter: Any
) -> None:
    list(client.messages.with_raw_response.create(stream=True, **request()).parse())
    client.post("/v1/messages", body=BODY, cast_to=object, options={"headers": CACHE_HEADERS})
    spans = span_exporter.get_finished_spans()
    # The SDK traces the requests its methods make (synapsekit adopts that span); a bare client.post has
    # no SDK span, so it gets synapsekit's.
    sdk_span = "anthropic.messages.create" if SDK_TRACES else f"chat {MODEL}"
    assert [span.name for span in spans] == [sdk_span, f"chat {MODEL}"]
    assert [span.attributes["gen_ai.usage.output_tokens"] for span in spans] == [12, 12]
    assert [span.attributes["gen_ai.usage.input_tokens"] for span in spans] == [7, 7]
    assert len(sink.ended) == 2

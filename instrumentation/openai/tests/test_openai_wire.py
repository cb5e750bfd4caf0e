"""Every way of sending a request through the openai SDK is one call, read at the request pipeline.

``client.post(...)`` (what litellm does), raw and lazily read responses read as the caller reads them,
helpers, retries inside the SDK, and a budget that refuses before anything is sent — each counted exactly
once with the server's usage, with one span, while the caller sees the same objects and chunks as without
synapsekit.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai import Stream
from openai._legacy_response import LegacyAPIResponse
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

import synapsekit
from conftest import RecordingSink, dropped_stream_error, httpx_module
from synapsekit import BudgetExceeded
from synapsekit.testing import LLMTestServer, collect_garbage, completion_text

pytestmark = pytest.mark.usefixtures("instrumented")

MODEL = "gpt-4o-mini"
BODY: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "one two three"}]}
RAW = {"X-Stainless-Raw-Response": "true"}
# Role chunk, twelve words, finish chunk: what a chat stream of the test server delivers without usage.
CHUNKS = 14


def assert_exact(call: Any, *, streamed: bool, chunks: int = 0) -> None:
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        "openai",
        "chat",
        MODEL,
        MODEL,
    )
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.error_type) == (
        3,
        12,
        False,
        None,
    )
    assert (call.streamed, call.chunks, call.finish_reasons) == (streamed, chunks, ("stop",))
    assert call.response_id is not None and call.response_id.startswith("chatcmpl-")


def data_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


# -- client.post ---------------------------------------------------------------------------------------------
def test_post_with_a_model_class_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    completion = client.post("/chat/completions", body=BODY, cast_to=ChatCompletion)
    assert isinstance(completion, ChatCompletion)
    assert_exact(sink.only, streamed=False)


def test_post_of_plain_json_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    completion = client.post("/chat/completions", body=BODY, cast_to=object)
    assert isinstance(completion, dict)
    assert completion["usage"]["completion_tokens"] == 12
    assert_exact(sink.only, streamed=False)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "chat/completions"),
        ("POST", "/chat/completions"),
        ("post", "/chat/completions?trace=1"),
        ("post", "{base}/chat/completions"),
    ],
)
def test_other_spellings_of_the_route_are_counted(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink, method: str, path: str
) -> None:
    from openai._models import FinalRequestOptions

    url = path.format(base=server.openai_base_url.rstrip("/"))
    options = FinalRequestOptions.construct(method=method, url=url, json_data=BODY)
    client.request(ChatCompletion, options)
    assert_exact(sink.only, streamed=False)


@pytest.mark.parametrize("by_keyword", [False, True], ids=["positional", "keyword"])
def test_options_are_read_whichever_way_they_are_passed(
    client: openai.OpenAI, sink: RecordingSink, by_keyword: bool
) -> None:
    """Options passed by position are read from their ``__dict__`` (the common path), by keyword through the
    general route; either way the body is read with its ``extra_body`` merged over it."""
    from openai._models import FinalRequestOptions

    options = FinalRequestOptions.construct(
        method="post", url="/chat/completions", json_data=BODY, extra_json={"max_tokens": 50}
    )
    if by_keyword:
        client.request(ChatCompletion, options=options)
    else:
        client.request(ChatCompletion, options)
    assert_exact(sink.only, streamed=False)
    assert sink.only.max_output_tokens == 50


def test_requests_that_are_not_calls_pass_through_uncounted(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    with pytest.raises(openai.NotFoundError):
        client.post("/completions", body={"model": MODEL, "prompt": "a b"}, cast_to=object)
    with pytest.raises(openai.NotFoundError):
        client.post("/responses/input_tokens", body={"model": MODEL, "input": "a b"}, cast_to=object)
    with pytest.raises(openai.NotFoundError):
        client.get("/responses/resp_1", cast_to=object)
    with pytest.raises(openai.NotFoundError):
        client.get("/chat/completions", cast_to=object)
    assert sink.ended == []


def test_post_of_a_stream_hides_the_usage_chunk_it_asked_for(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    stream = client.post(
        "/chat/completions",
        body={**BODY, "stream": True},
        cast_to=ChatCompletion,
        stream=True,
        stream_cls=Stream[ChatCompletionChunk],
    )
    assert isinstance(stream, Stream)
    chunks = list(stream)
    assert len(chunks) == CHUNKS
    assert all(chunk.choices for chunk in chunks)
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_post_of_a_stream_of_plain_json_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    stream = client.post(
        "/chat/completions",
        body={**BODY, "stream": True},
        cast_to=object,
        stream=True,
        stream_cls=Stream[object],
    )
    chunks = list(stream)
    assert len(chunks) == CHUNKS
    assert all(isinstance(chunk, dict) and chunk["choices"] for chunk in chunks)
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


async def test_async_post_and_stream_are_counted(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    await async_client.post("/chat/completions", body=BODY, cast_to=ChatCompletion)
    stream = await async_client.post(
        "/chat/completions",
        body={**BODY, "stream": True},
        cast_to=ChatCompletion,
        stream=True,
        stream_cls=openai.AsyncStream[ChatCompletionChunk],
    )
    assert isinstance(stream, openai.AsyncStream)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == CHUNKS
    first, second = sink.ended
    assert_exact(first, streamed=False)
    assert_exact(second, streamed=True, chunks=CHUNKS)


# -- what litellm does: client.post with the raw-response header, then parse() ------------------------------
def test_raw_post_then_parse_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    raw = client.post("/chat/completions", body=BODY, cast_to=ChatCompletion, options={"headers": RAW})
    assert isinstance(raw, LegacyAPIResponse)
    assert_exact(sink.only, streamed=False)  # the body is read already: counted at once
    assert raw.parse().usage is not None


def test_raw_post_of_a_stream_then_parse_is_counted_without_the_usage_chunk(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    raw = client.post(
        "/chat/completions",
        body={**BODY, "stream": True},
        cast_to=ChatCompletion,
        options={"headers": RAW},
        stream=True,
        stream_cls=Stream[ChatCompletionChunk],
    )
    assert isinstance(raw, LegacyAPIResponse)
    assert sink.ended == []
    stream = raw.parse()
    assert type(stream) is Stream
    chunks = list(stream)
    assert len(chunks) == CHUNKS
    assert all(chunk.choices for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == completion_text(12)
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


async def test_async_raw_post_of_a_stream_then_parse_is_counted(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    raw = await async_client.post(
        "/chat/completions",
        body={**BODY, "stream": True},
        cast_to=ChatCompletion,
        options={"headers": RAW},
        stream=True,
        stream_cls=openai.AsyncStream[ChatCompletionChunk],
    )
    chunks = [chunk async for chunk in raw.parse()]
    assert len(chunks) == CHUNKS
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_raw_embeddings_post_is_counted(client: openai.OpenAI, sink: RecordingSink) -> None:
    raw = client.post(
        "/embeddings",
        body={"model": "text-embedding-3-small", "input": "a b c"},
        cast_to=CreateEmbeddingResponse,
        options={"headers": RAW},
    )
    assert len(raw.parse().data) == 1
    call = sink.only
    assert (call.operation, call.input_tokens, call.output_tokens, call.usage_estimated) == (
        "embeddings",
        3,
        0,
        False,
    )


# -- raw bytes and lines ---------------------------------------------------------------------------------------
def test_streaming_response_of_a_stream_read_as_lines(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=BODY["messages"], stream=True
    ) as response:
        lines = list(response.iter_lines())
    events = data_lines(lines)
    assert len(events) == CHUNKS
    assert all(event["choices"] for event in events)
    assert lines[-2:] == ["data: [DONE]", ""]
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_streaming_response_read_as_bytes_is_the_uninstrumented_stream(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    def read(extra: dict[str, Any]) -> bytes:
        with client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=BODY["messages"], stream=True, **extra
        ) as response:
            return b"".join(response.iter_bytes(chunk_size=7))

    instrumented = read({})
    synapsekit.uninstrument("openai")
    try:
        bare = read({})
    finally:
        synapsekit.instrument("openai")
    assert len(sink.ended) == 1

    def shape(body: bytes) -> list[Any]:
        # Ids and timestamps differ between two requests; everything else is the same stream.
        shapes = []
        for line in body.decode().splitlines():
            if line.startswith("data: {"):
                event = json.loads(line[6:])
                shapes.append((event["model"], event["choices"], event.get("usage")))
            else:
                shapes.append(line)
        return shapes

    assert shape(instrumented) == shape(bare)
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


async def test_async_streaming_response_read_as_text(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    async with async_client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=BODY["messages"], stream=True
    ) as response:
        text = "".join([part async for part in response.iter_text()])
    assert len(data_lines(text.splitlines())) == CHUNKS
    assert '"choices":[]' not in text
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_raw_stream_read_with_http_response_read(client: openai.OpenAI, sink: RecordingSink) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=BODY["messages"], stream=True
    )
    body = raw.http_response.read()
    assert len(data_lines(body.decode().splitlines())) == CHUNKS
    assert raw.http_response.content == body  # httpx's cache holds what the caller read
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_callers_own_usage_chunk_is_kept_in_the_raw_bytes(client: openai.OpenAI, sink: RecordingSink) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=BODY["messages"], stream=True, stream_options={"include_usage": True}
    )
    events = data_lines(list(raw.http_response.iter_lines()))
    assert len(events) == CHUNKS + 1
    assert events[-1]["choices"] == []
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_caller_declining_usage_is_respected_and_estimated(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=BODY["messages"], stream=True, stream_options={"include_usage": False}
    )
    assert len(data_lines(list(raw.http_response.iter_lines()))) == CHUNKS
    assert server.requests[-1].json["stream_options"] == {"include_usage": False}
    call = sink.only
    # 13 characters of prompt → 4 tokens; the 12 words streamed (68 characters) → 17 tokens.
    assert len(completion_text(12)) == 68
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, 17, True)


# -- a raw stream ends exactly once -----------------------------------------------------------------------------
def _raw_stream(client: openai.OpenAI) -> Any:
    return client.chat.completions.with_raw_response.create(
        model=MODEL, messages=BODY["messages"], stream=True
    )


def test_raw_stream_broken_out_of_and_closed_is_estimated_once(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    stream = _raw_stream(client).parse()
    for index, _chunk in enumerate(stream):
        if index == 3:
            break
    assert sink.ended == []
    stream.close()
    stream.close()
    collect_garbage()
    call = sink.only
    # Role chunk, "Hello", " from", " the" read before the break: 14 characters → 4 tokens.
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.error_type) == (
        4,
        4,
        True,
        None,
    )


def test_raw_stream_dropped_unread_is_estimated_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    raw = _raw_stream(client)
    del raw
    collect_garbage()
    call = sink.only
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, 0, True)


def test_raw_stream_parsed_then_dropped_half_way_is_estimated_once(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    stream = _raw_stream(client).parse()
    next(iter(stream))
    next(iter(stream))
    del stream
    collect_garbage()
    call = sink.only
    assert (call.usage_estimated, call.error_type) == (True, None)
    assert call.output_tokens == 2  # "Hello" (5 characters) read: 2 tokens


def test_raw_stream_dropped_connection_fails_the_call(client: openai.OpenAI, sink: RecordingSink) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=BODY["messages"], stream=True, extra_headers={"x-test-drop-after": "2"}
    )
    with pytest.raises(dropped_stream_error()) as raised:
        list(raw.parse())
    call = sink.only
    # The transport's error: openai 3 hands it to the caller wrapped in an APIConnectionError.
    assert call.error in (raised.value, raised.value.__cause__)
    # Two words streamed: "Hello from" is 10 characters → 3 tokens, billed and estimated.
    assert (call.output_tokens, call.usage_estimated) == (3, True)


def test_context_manager_of_a_streaming_response_closed_half_way(
    client: openai.OpenAI, sink: RecordingSink
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=BODY["messages"], stream=True
    ) as response:
        lines = response.iter_lines()
        for _ in range(3):
            next(lines)
        assert sink.ended == []
    call = sink.only
    assert (call.usage_estimated, call.error_type) == (True, None)


# -- helpers ----------------------------------------------------------------------------------------------------
def test_chat_stream_helper_is_counted_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    with client.chat.completions.stream(model=MODEL, messages=BODY["messages"]) as stream:
        final = stream.get_final_completion()
    # The usage chunk asked for on the caller's behalf is not theirs: as uninstrumented, no usage.
    assert final.usage is None
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_responses_stream_helper_is_counted_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    with client.responses.stream(model="gpt-4.1-mini", input="one two") as stream:
        stream.until_done()
    call = sink.only
    assert (call.input_tokens, call.output_tokens, call.streamed, call.usage_estimated) == (
        2,
        12,
        True,
        False,
    )


# -- retries -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 500])
def test_a_retried_request_is_one_call_charged_for_the_attempt_that_answered(
    server: LLMTestServer, sink: RecordingSink, status: int
) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=2) as retrying:
        before = server.request_count
        server.fail_next(status, count=2, retry_after=0.01)
        retrying.chat.completions.create(model=MODEL, messages=BODY["messages"])
    assert server.request_count == before + 3
    assert_exact(sink.only, streamed=False)


async def test_a_retried_async_stream_is_one_call(server: LLMTestServer, sink: RecordingSink) -> None:
    async with openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="k", max_retries=1) as retrying:
        server.fail_next(429, retry_after=0.01)
        stream = await retrying.chat.completions.create(model=MODEL, messages=BODY["messages"], stream=True)
        assert len([chunk async for chunk in stream]) == CHUNKS
    assert_exact(sink.only, streamed=True, chunks=CHUNKS)


def test_retries_exhausted_is_one_failed_call_costing_nothing(
    server: LLMTestServer, sink: RecordingSink
) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=1) as retrying:
        server.fail_next(503, count=2, retry_after=0.01)
        with pytest.raises(openai.InternalServerError) as raised:
            retrying.chat.completions.create(model=MODEL, messages=BODY["messages"])
    call = sink.only
    assert call.error is raised.value
    assert (call.input_tokens, call.output_tokens, call.cost) == (0, 0, 0)


# -- budgets refuse before anything leaves ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda c: c.post("/chat/completions", body=BODY, cast_to=object), id="post"),
        pytest.param(
            lambda c: c.post("/chat/completions", body=BODY, cast_to=object, options={"headers": RAW}),
            id="raw-post",
        ),
        pytest.param(
            lambda c: c.chat.completions.with_raw_response.create(
                model=MODEL, messages=BODY["messages"], stream=True
            ),
            id="with_raw_response-stream",
        ),
        pytest.param(
            lambda c: c.chat.completions.with_streaming_response.create(
                model=MODEL, messages=BODY["messages"]
            ).__enter__(),
            id="with_streaming_response",
        ),
        pytest.param(
            lambda c: c.chat.completions.stream(model=MODEL, messages=BODY["messages"]).__enter__(),
            id="stream-helper",
        ),
    ],
)
def test_a_too_small_budget_refuses_with_no_request_sent(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink, send: Any
) -> None:
    before = server.request_count
    with synapsekit.budget(max_tokens=1), pytest.raises(BudgetExceeded):
        send(client)
    assert server.request_count == before
    assert sink.only.rejected is True


async def test_a_too_small_budget_refuses_an_async_raw_request(
    async_client: openai.AsyncOpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    before = server.request_count
    with synapsekit.budget(max_tokens=1), pytest.raises(BudgetExceeded):
        await async_client.chat.completions.with_raw_response.create(model=MODEL, messages=BODY["messages"])
    assert server.request_count == before
    assert sink.only.rejected is True


def test_a_budget_cuts_a_raw_stream_read_as_lines(client: openai.OpenAI, sink: RecordingSink) -> None:
    with synapsekit.budget(max_tokens=6, default_max_output_tokens=1):
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=BODY["messages"], stream=True
        )
        with pytest.raises(BudgetExceeded):
            list(raw.http_response.iter_lines())
    assert raw.http_response.is_closed
    call = sink.only
    # Cut before the usage chunk: both counts estimated (the prompt's 13 characters → 4 tokens).
    assert (call.error_type, call.input_tokens, call.usage_estimated) == ("BudgetExceeded", 4, True)


async def test_a_budget_cuts_an_async_streaming_response_read_as_lines(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    with synapsekit.budget(max_tokens=6, default_max_output_tokens=1):
        async with async_client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=BODY["messages"], stream=True
        ) as response:
            with pytest.raises(BudgetExceeded):
                [line async for line in response.iter_lines()]
            assert response.http_response.is_closed
    call = sink.only
    assert (call.error_type, call.input_tokens, call.usage_estimated) == ("BudgetExceeded", 4, True)


# -- spans ---------------------------------------------------------------------------------------------------------
def test_one_span_per_request_whatever_the_way_it_was_sent(
    client: openai.OpenAI, sink: RecordingSink, span_exporter: Any
) -> None:
    client.post("/chat/completions", body=BODY, cast_to=object)
    list(_raw_stream(client).parse())
    with client.chat.completions.with_streaming_response.create(model=MODEL, messages=BODY["messages"]) as r:
        r.parse()
    spans = span_exporter.get_finished_spans()
    assert [span.name for span in spans] == [f"chat {MODEL}"] * 3
    assert [span.attributes["gen_ai.usage.output_tokens"] for span in spans] == [12, 12, 12]
    assert [span.attributes["gen_ai.usage.input_tokens"] for span in spans] == [3, 3, 3]
    assert len(sink.ended) == 3


def test_transport_module_matches_the_sdk() -> None:
    # The raw-body reader replaces iter_bytes on the SDK's own HTTP response class: check it reads there.
    response_class = httpx_module().Response
    assert callable(response_class.iter_bytes) and callable(response_class.aiter_bytes)

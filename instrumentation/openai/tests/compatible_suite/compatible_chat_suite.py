"""The chat suite of the OpenAI-compatible generated SDKs (groq, cerebras-cloud-sdk, together, fireworks-ai).

Chat completions over HTTP, through the pipeline those SDKs share: sync, async and streamed calls counted
exactly (input includes the cache, output the reasoning), raw views, budgets that refuse before anything is
sent or cut a stream, one CLIENT span with the conventions' names, the cost from genai-prices, provider errors
unchanged, and instrumenting undone exactly.

Written once, run per SDK: ``instrumentation/<sdk>/tests/test_<sdk>_chat.py`` star-imports the test functions
(``__all__``; pytest collects them there) and that directory's ``conftest.py`` imports the fixtures below and
provides ``kit``, its ``_<sdk>_testkit`` module: what the suite needs to know of the SDK (``NAME``,
``DISTRIBUTION``, ``PACKAGE``, ``PROVIDER``, ``SUPPORTED``, ``Client``, ``AsyncClient``, ``APIError``,
``NotFoundError``, ``RateLimitError``) and the numbers it expects (``MODEL``, ``PRICE_PER_MTOK``,
``CHAT_PATH``, ``ASKS_STREAM_USAGE``, ``base_url(server)``). The repository's root ``conftest.py`` puts this
folder on ``sys.path``; ``server`` and ``sink`` are its fixtures too.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit._instrumenting.instrument import available_instrumentors
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import CallRecorder, LLMTestServer, collect_garbage, completion_text

Kit = ModuleType  # an SDK's ``_<sdk>_testkit`` module (see above)


# -- fixtures (imported by each SDK's conftest.py, which provides ``kit``) -------------------------------------
@pytest.fixture
def instrumented(kit: Kit) -> Iterator[None]:
    assert synapsekit.instrument(kit.NAME) == [kit.NAME]
    yield
    synapsekit.uninstrument(kit.NAME)


@pytest.fixture
def client(kit: Kit, server: LLMTestServer) -> Iterator[Any]:
    with kit.Client(base_url=kit.base_url(server), api_key="test", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(kit: Kit, server: LLMTestServer) -> AsyncIterator[Any]:
    async with kit.AsyncClient(base_url=kit.base_url(server), api_key="test", max_retries=0) as sdk:
        yield sdk


PROMPT = "one two three four five six seven"  # 7 input tokens on the test server
# 2 of the 7 input tokens read from the cache, 3 of the 12 output tokens reasoning.
USAGE_HEADERS = {"x-test-cached-tokens": "2", "x-test-reasoning-tokens": "3"}


def chat(kit: Kit, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": kit.MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 100,
        "extra_headers": dict(USAGE_HEADERS),
    }
    kwargs.update(overrides)
    return kwargs


def assert_exact(kit: Kit, call: Any, *, streamed: bool) -> None:
    assert (call.provider, call.operation, call.request_model, call.response_model) == (
        kit.PROVIDER,
        "chat",
        kit.MODEL,
        kit.MODEL,
    )
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens, call.reasoning_tokens) == (
        7,
        2,
        12,
        3,
    )
    assert (call.usage_estimated, call.error_type, call.finish_reasons) == (False, None, ("stop",))
    # A stream's chunks: the role chunk, one per word, the finish chunk (a hidden usage-only chunk is not one).
    assert (call.streamed, call.chunks) == (streamed, 14 if streamed else 0)
    assert call.response_id is not None and call.response_id.startswith("chatcmpl-")


def text_of(chunks: list[Any]) -> str:
    return "".join(choice.delta.content or "" for chunk in chunks for choice in chunk.choices)


def sent_stream_options(kit: Kit, server: LLMTestServer) -> Any:
    [request] = server.requests
    assert request.path == kit.CHAT_PATH
    return request.json.get("stream_options")


class ToTestServer(httpx.HTTPTransport):
    """Sends what an SDK addressed to its provider's default URL to the test server's ``/<dialect>`` instead.

    ``strip``: a path prefix of the provider's URL the dialect does not have. ``addressed``: the URLs the SDK
    addressed, in order.
    """

    def __init__(self, server: LLMTestServer, dialect: str, strip: str = "") -> None:
        super().__init__()
        self.server = server
        self.dialect = dialect
        self.strip = strip
        self.addressed: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.addressed.append(str(request.url))
        path = request.url.path.removeprefix(self.strip)
        request.url = request.url.copy_with(
            scheme="http", host="127.0.0.1", port=self.server.port, path=f"/{self.dialect}{path}"
        )
        return super().handle_request(request)


# -- chat: sync, async, streamed ----------------------------------------------------------------------------------
@pytest.mark.usefixtures("instrumented")
def test_chat_is_counted_exactly(kit: Kit, client: Any, sink: CallRecorder) -> None:
    completion = client.chat.completions.create(**chat(kit))
    assert completion.choices[0].message.content == completion_text(12)
    assert_exact(kit, sink.only, streamed=False)
    assert sink.only.response_id == completion.id


@pytest.mark.usefixtures("instrumented")
async def test_async_chat_is_counted_exactly(kit: Kit, async_client: Any, sink: CallRecorder) -> None:
    completion = await async_client.chat.completions.create(**chat(kit))
    assert completion.choices[0].message.content == completion_text(12)
    assert_exact(kit, sink.only, streamed=False)


@pytest.mark.usefixtures("instrumented")
def test_stream_is_counted_exactly(kit: Kit, client: Any, server: LLMTestServer, sink: CallRecorder) -> None:
    chunks = list(client.chat.completions.create(stream=True, **chat(kit)))
    assert text_of(chunks) == completion_text(12)
    assert_exact(kit, sink.only, streamed=True)
    if kit.ASKS_STREAM_USAGE:
        # Asked for on the caller's behalf, and the usage-only chunk they did not ask for is hidden.
        assert sent_stream_options(kit, server) == {"include_usage": True}
        assert all(chunk.choices for chunk in chunks)
    else:
        # Sent as written: this provider reports usage on the last chunk unasked, and the caller sees it.
        assert sent_stream_options(kit, server) is None
        assert chunks[-1].usage is not None and chunks[-1].choices


@pytest.mark.usefixtures("instrumented")
async def test_async_stream_is_counted_exactly(kit: Kit, async_client: Any, sink: CallRecorder) -> None:
    stream = await async_client.chat.completions.create(stream=True, **chat(kit))
    chunks = [chunk async for chunk in stream]
    assert text_of(chunks) == completion_text(12)
    assert_exact(kit, sink.only, streamed=True)
    # No usage-only chunk reaches the caller; the usage they see is the provider's own, on its last chunk.
    assert all(chunk.choices for chunk in chunks)
    assert (chunks[-1].usage is not None) is not kit.ASKS_STREAM_USAGE


@pytest.mark.usefixtures("instrumented")
def test_a_caller_who_asked_for_usage_gets_their_chunk(
    kit: Kit, client: Any, server: LLMTestServer, sink: CallRecorder
) -> None:
    chunks = list(
        client.chat.completions.create(
            stream=True, extra_body={"stream_options": {"include_usage": True}}, **chat(kit)
        )
    )
    assert sent_stream_options(kit, server) == {"include_usage": True}
    assert chunks[-1].usage is not None  # theirs, not hidden
    assert_exact(kit, sink.only, streamed=True)


# -- raw views and client.post ------------------------------------------------------------------------------------
@pytest.mark.usefixtures("instrumented")
def test_raw_response_is_counted_and_untouched(kit: Kit, client: Any, sink: CallRecorder) -> None:
    raw = client.chat.completions.with_raw_response.create(**chat(kit))
    assert raw.parse().choices[0].message.content == completion_text(12)
    assert_exact(kit, sink.only, streamed=False)


@pytest.mark.usefixtures("instrumented")
def test_raw_stream_read_as_lines_is_counted(kit: Kit, client: Any, sink: CallRecorder) -> None:
    with client.chat.completions.with_streaming_response.create(stream=True, **chat(kit)) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert_exact(kit, sink.only, streamed=True)


@pytest.mark.usefixtures("instrumented")
async def test_async_raw_response_is_counted(kit: Kit, async_client: Any, sink: CallRecorder) -> None:
    raw = await async_client.chat.completions.with_raw_response.create(**chat(kit))
    assert (await raw.parse()).choices[0].message.content == completion_text(12)
    assert_exact(kit, sink.only, streamed=False)


# -- streams end once on every exit path --------------------------------------------------------------------------
@pytest.mark.usefixtures("instrumented")
def test_a_stream_left_early_ends_once_estimated(kit: Kit, client: Any, sink: CallRecorder) -> None:
    stream = client.chat.completions.create(stream=True, **chat(kit, extra_headers=None))
    for index, _chunk in enumerate(stream):
        if index == 3:
            break
    assert sink.ended == []
    stream.close()
    stream.close()
    del stream
    collect_garbage()
    call = sink.only
    assert (call.error_type, call.usage_estimated, call.chunks) == (None, True, 4)


@pytest.mark.usefixtures("instrumented")
async def test_an_async_stream_left_in_its_context_ends_once(
    kit: Kit, async_client: Any, sink: CallRecorder
) -> None:
    async with await async_client.chat.completions.create(stream=True, **chat(kit)) as stream:
        async for _chunk in stream:
            break
    assert len(sink.ended) == 1
    assert sink.only.usage_estimated is True


@pytest.mark.usefixtures("instrumented")
def test_a_dropped_connection_fails_the_stream_once(kit: Kit, client: Any, sink: CallRecorder) -> None:
    stream = client.chat.completions.create(
        stream=True, **chat(kit, extra_headers={"x-test-drop-after": "3"})
    )
    with pytest.raises((httpx.HTTPError, kit.APIError)) as raised:
        list(stream)
    call = sink.only
    assert call.error is raised.value
    assert (call.error_type, call.usage_estimated) == (type(raised.value).__qualname__, True)


# -- budgets: admission before the request leaves, streams cut --------------------------------------------------
@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("streamed", [False, True])
def test_the_output_limit_is_reserved_before_sending(
    kit: Kit, client: Any, server: LLMTestServer, sink: CallRecorder, streamed: bool
) -> None:
    with synapsekit.budget(max_tokens=1000), pytest.raises(BudgetExceeded):
        client.chat.completions.create(stream=streamed, **chat(kit, max_tokens=5000))
    assert server.request_count == 0
    assert sink.only.rejected is True
    with synapsekit.budget(max_tokens=1000):
        client.chat.completions.create(stream=streamed, **chat(kit, max_tokens=10))
    assert server.request_count == 1


@pytest.mark.usefixtures("instrumented")
async def test_the_prompt_is_reserved_before_sending(
    kit: Kit, async_client: Any, server: LLMTestServer, sink: CallRecorder
) -> None:
    long_prompt = " ".join(["word"] * 2000)
    with synapsekit.budget(max_tokens=1000), pytest.raises(BudgetExceeded):
        await async_client.chat.completions.create(
            **chat(kit, max_tokens=1, messages=[{"role": "user", "content": long_prompt}])
        )
    assert server.request_count == 0
    assert sink.only.rejected is True


@pytest.mark.usefixtures("instrumented")
def test_a_budget_cuts_a_stream(kit: Kit, client: Any, sink: CallRecorder) -> None:
    with synapsekit.budget(max_tokens=6, default_max_output_tokens=1):
        stream = client.chat.completions.create(
            stream=True, **chat(kit, max_tokens=None, messages=[{"role": "user", "content": "one two three"}])
        )
        with pytest.raises(BudgetExceeded):
            list(stream)
    call = sink.only
    # Cut before any usage arrived: estimated (the prompt's 13 characters → 4 tokens).
    assert (call.error_type, call.input_tokens, call.usage_estimated) == ("BudgetExceeded", 4, True)


# -- span and cost ------------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("streamed", [False, True])
def test_one_client_span_per_request(
    kit: Kit, client: Any, server: LLMTestServer, sink: CallRecorder, span_exporter: Any, streamed: bool
) -> None:
    response = client.chat.completions.create(stream=streamed, **chat(kit))
    if streamed:
        list(response)
    [span] = span_exporter.get_finished_spans()
    assert (span.name, span.kind, span.instrumentation_scope.name) == (
        f"chat {kit.MODEL}",
        SpanKind.CLIENT,
        "synapsekit",
    )
    attributes = dict(span.attributes or {})
    assert {
        key: attributes.get(key)
        for key in (
            "gen_ai.provider.name",
            "gen_ai.operation.name",
            "gen_ai.request.model",
            "gen_ai.request.max_tokens",
            "gen_ai.response.model",
            "gen_ai.response.id",
            "gen_ai.response.finish_reasons",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.reasoning.output_tokens",
            "server.address",
            "server.port",
            "gen_ai.request.stream",
        )
    } == {
        "gen_ai.provider.name": kit.PROVIDER,
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": kit.MODEL,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.response.model": kit.MODEL,
        "gen_ai.response.id": sink.only.response_id,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 2,
        "gen_ai.usage.reasoning.output_tokens": 3,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.request.stream": True if streamed else None,  # set on streamed calls only
    }
    assert attributes["gen_ai.usage.cost"] == pytest.approx(float(sink.only.cost or 0), abs=1e-12)
    assert span.status.status_code is not StatusCode.ERROR


@pytest.mark.usefixtures("instrumented")
def test_cost_is_genai_prices_price(kit: Kit, client: Any, sink: CallRecorder) -> None:
    client.chat.completions.create(
        **chat(
            kit,
            extra_headers={"x-test-input-tokens": "1000000", "x-test-output-tokens": "1000"},
            max_tokens=None,
        )
    )
    input_price, output_price = kit.PRICE_PER_MTOK
    call = sink.only
    assert (call.input_tokens, call.output_tokens) == (1_000_000, 1000)
    assert call.cost == input_price + output_price * Decimal(1000) / Decimal(1_000_000)


# -- errors -------------------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("streamed", [False, True])
def test_provider_errors_pass_through_unchanged(
    kit: Kit, client: Any, sink: CallRecorder, streamed: bool
) -> None:
    with pytest.raises(kit.RateLimitError) as raised:
        client.chat.completions.create(stream=streamed, **chat(kit, extra_headers={"x-test-status": "429"}))
    assert type(raised.value) is kit.RateLimitError
    assert raised.value.status_code == 429
    call = sink.only
    assert (call.error, call.error_type) == (raised.value, "RateLimitError")


@pytest.mark.usefixtures("instrumented")
def test_requests_that_are_not_llm_calls_pass_through(kit: Kit, client: Any, sink: CallRecorder) -> None:
    # An unknown path: the SDK's own 404, nothing counted.
    with pytest.raises(kit.NotFoundError):
        client.post("/v1/not-an-llm-call", body={"model": kit.MODEL}, cast_to=object)
    assert sink.ended == []


# -- instrumenting ------------------------------------------------------------------------------------------------
def test_registered_under_the_entry_point_group(
    kit: Kit,
) -> None:
    [entry_point] = [
        ep for ep in importlib.metadata.entry_points(group="synapsekit.instrumentors") if ep.name == kit.NAME
    ]
    found = available_instrumentors()[kit.NAME]
    assert entry_point.load() is type(found)
    assert (found.distribution, found.supported, found.module) == (
        kit.DISTRIBUTION,
        kit.SUPPORTED,
        kit.PACKAGE,
    )
    assert found.dependency_conflict() is None


def test_instrument_then_uninstrument_restores_the_exact_originals(
    kit: Kit, server: LLMTestServer, sink: CallRecorder
) -> None:
    base = importlib.import_module(f"{kit.PACKAGE}._base_client")

    def originals() -> list[Any]:
        return [base.SyncAPIClient.__dict__["request"], base.AsyncAPIClient.__dict__["request"]]

    before = originals()
    assert not any(is_synapsekit_wrapper(obj) for obj in before)
    synapsekit.instrument(kit.NAME)
    synapsekit.instrument(kit.NAME)  # idempotent
    assert all(is_synapsekit_wrapper(obj) for obj in originals())
    synapsekit.uninstrument(kit.NAME)
    assert all(now is then for now, then in zip(originals(), before, strict=True))
    synapsekit.uninstrument(kit.NAME)
    assert all(now is then for now, then in zip(originals(), before, strict=True))
    with kit.Client(base_url=kit.base_url(server), api_key="test", max_retries=0) as sdk:
        sdk.chat.completions.create(**chat(kit))
    assert sink.ended == []


# What an SDK's test module star-imports: the test functions, collected there with its directory's ``kit``.
__all__ = [name for name in dict(globals()) if name.startswith("test_")]

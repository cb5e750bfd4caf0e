"""Budgets: a request too big for the budget is refused before anything is sent; a stream is cut when the
budget runs out, and charged for what it streamed."""

from __future__ import annotations

from typing import Any

import pytest
from _gemini_testkit import (
    EMBEDDING_MODEL,
    EMBEDDING_USAGE,
    MODEL,
    PROMPT,
    config,
    flash_cost,
    generate,
    generate_async,
)
from google import genai

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit.testing import CallRecorder, LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

MODES = ["generate", "stream"]
# The prompt's 17 characters are estimated at 5 tokens before the request; max_output_tokens=100 is the
# worst case of its output: 105 tokens, or 5 x $0.30 + 100 x $2.50 per million = $0.0002515.
BIG = {"config": {"max_output_tokens": 100}}


def assert_refused(server: LLMTestServer, sink: CallRecorder, tally: Any) -> None:
    assert server.request_count == 0
    assert (tally.calls, tally.rejected_calls) == (0, 1)
    [call] = sink.ended
    assert (call.rejected, call.error_type, call.max_output_tokens) == (True, "BudgetExceeded", 100)


@pytest.mark.parametrize("mode", MODES)
def test_refused_before_sending(
    any_client: genai.Client, server: LLMTestServer, sink: CallRecorder, mode: str
) -> None:
    with synapsekit.track() as tally, synapsekit.budget(max_tokens=104), pytest.raises(BudgetExceeded):
        generate(any_client, mode, **BIG)
    assert_refused(server, sink, tally)


@pytest.mark.parametrize("mode", MODES)
async def test_async_refused_before_sending(
    any_client: genai.Client, server: LLMTestServer, sink: CallRecorder, mode: str
) -> None:
    with synapsekit.track() as tally, synapsekit.budget(max_tokens=104), pytest.raises(BudgetExceeded):
        await generate_async(any_client, mode, **BIG)
    assert_refused(server, sink, tally)


def test_refused_by_cost(client: genai.Client, server: LLMTestServer, sink: CallRecorder) -> None:
    with synapsekit.budget(max_cost_usd=0.00025), pytest.raises(BudgetExceeded):
        generate(client, "generate", **BIG)
    assert server.request_count == 0
    with synapsekit.budget(max_cost_usd=0.0002515) as scope:
        generate(client, "generate", **BIG)
    assert server.request_count == 1
    assert scope.spent_usd == float(flash_cost(4, 12))


def test_a_request_that_fits_is_sent_and_settled(client: genai.Client, server: LLMTestServer) -> None:
    with synapsekit.budget(max_tokens=105) as scope:
        generate(client, "stream", **BIG)
        assert (scope.totals().spent_tokens, scope.totals().reserved_tokens) == (16, 0)
    assert server.request_count == 1


def test_embeddings_reserve_no_output(
    client: genai.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    # "one two three" is 13 characters: 4 tokens estimated, and an embedding has no output to reserve.
    with synapsekit.budget(max_tokens=4) as scope:
        client.models.embed_content(model=EMBEDDING_MODEL, contents="one two three")
        with pytest.raises(BudgetExceeded):
            client.models.embed_content(model=EMBEDDING_MODEL, contents="one two three")
    assert server.request_count == 1
    assert scope.totals().spent_tokens == (3 if EMBEDDING_USAGE else 4)


# The budget covers the 5 estimated input tokens and 5 output tokens by default. Input 4 is reported with the
# first chunk; "Hello", " from", " the" fit, " synapsekit" takes the text to 25 characters (7 tokens): cut.
CUT_BUDGET = {"max_tokens": 10, "default_max_output_tokens": 5}


async def drain(stream: Any, into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk.text or "")


def assert_cut(server: LLMTestServer, sink: CallRecorder, received: list[str], scope: Any) -> None:
    assert received == ["Hello", " from", " the"]
    [call] = sink.ended
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, 7, True)
    assert (call.error_type, call.cost) == ("BudgetExceeded", flash_cost(4, 7))
    assert scope.totals().reserved_tokens == 0
    assert server.request_count == 1


def test_a_stream_is_cut_when_the_budget_runs_out(
    any_client: genai.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    received: list[str] = []
    with synapsekit.budget(**CUT_BUDGET) as scope:
        stream = any_client.models.generate_content_stream(model=MODEL, contents=PROMPT)
        with pytest.raises(BudgetExceeded, match="the stream was cut"):
            received.extend(chunk.text or "" for chunk in stream)
    assert_cut(server, sink, received, scope)


async def test_an_async_stream_is_cut_when_the_budget_runs_out(
    any_client: genai.Client, server: LLMTestServer, sink: CallRecorder
) -> None:
    received: list[str] = []
    with synapsekit.budget(**CUT_BUDGET) as scope:
        stream = await any_client.aio.models.generate_content_stream(model=MODEL, contents=PROMPT)
        with pytest.raises(BudgetExceeded, match="the stream was cut"):
            await drain(stream, received)
    assert_cut(server, sink, received, scope)


def test_a_stream_within_its_max_output_tokens_is_not_cut(client: genai.Client, sink: CallRecorder) -> None:
    with synapsekit.budget(max_tokens=10):
        text = generate(client, "stream", config=config(max_output_tokens=5))
    assert text == "Hello from the synapsekit test"
    assert (sink.only.output_tokens, sink.only.usage_estimated, sink.only.error_type) == (5, False, None)

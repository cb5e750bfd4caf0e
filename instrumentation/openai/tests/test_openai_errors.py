"""Provider errors reach the caller unchanged; our own failures never break the caller's request."""

from __future__ import annotations

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from synapsekit_instrumentation_openai import _chat, _chat_usage

import synapsekit
from conftest import RecordingSink
from synapsekit._core.errors import set_strict
from synapsekit.testing import LLMTestServer

pytestmark = pytest.mark.usefixtures("instrumented")

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three"}]


@pytest.mark.parametrize(
    ("status", "error_class"), [(429, openai.RateLimitError), (500, openai.InternalServerError)]
)
def test_provider_error_passes_through_unchanged(
    client: openai.OpenAI, sink: RecordingSink, status: int, error_class: type[openai.APIStatusError]
) -> None:
    with synapsekit.track() as tally, pytest.raises(error_class) as raised:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-test-status": str(status)}
        )
    assert type(raised.value) is error_class
    assert raised.value.status_code == status
    call = sink.only
    assert call.error is raised.value
    assert call.error_type == error_class.__qualname__
    assert (call.input_tokens, call.output_tokens) == (0, 0)
    assert (tally.calls, tally.failed_calls) == (1, 1)


async def test_async_provider_error_passes_through_unchanged(
    async_client: openai.AsyncOpenAI, sink: RecordingSink
) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        await async_client.responses.create(
            model="gpt-4.1-mini", input="hi", stream=True, extra_headers={"x-test-status": "429"}
        )
    assert raised.value.status_code == 429
    assert sink.only.error is raised.value


def test_sdk_validation_error_passes_through_and_sends_nothing_to_count(
    client: openai.OpenAI, server: LLMTestServer, sink: RecordingSink
) -> None:
    before = server.request_count
    with pytest.raises(TypeError):
        client.chat.completions.create(model="gpt-4o-mini")  # type: ignore[call-overload]
    # The SDK refused the arguments before building a request: no request, no call.
    assert (sink.ended, server.request_count) == ([], before)


def _explode(call: object, result: object) -> None:
    raise RuntimeError("extractor bug")


def test_exploding_extractor_leaves_the_call_working_when_not_strict(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_chat.ChatOperation, "record", staticmethod(_explode))
    set_strict(False)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content is not None
    assert len(sink.ended) == 1


def test_exploding_extractor_raises_in_strict_mode(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_chat.ChatOperation, "record", staticmethod(_explode))
    with pytest.raises(RuntimeError, match="extractor bug"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(sink.ended) == 1


def test_exploding_chunk_reader_leaves_the_stream_working_when_not_strict(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_chat_usage, "record_chat_usage", _explode)
    monkeypatch.setattr(_chat, "record_chat_usage", _explode)
    set_strict(False)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    # Reading the usage chunk's text failed, so the SDK parsed it; the chunk reader failed on it too, so it
    # is delivered rather than risk hiding a real one.
    assert len(chunks) == 15
    assert len(sink.ended) == 1


def test_exploding_request_reader_sends_the_request_uninstrumented(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: object, kwargs: object) -> None:
        raise RuntimeError("request reader bug")

    monkeypatch.setattr(_chat.ChatOperation, "describe", explode)
    set_strict(False)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.usage is not None
    assert sink.ended == []
    set_strict(True)
    with pytest.raises(RuntimeError, match="request reader bug"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

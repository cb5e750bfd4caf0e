"""OpenAILLM: a BaseLLM on the openai SDK, counted once with or without the SDK instrumented."""

from __future__ import annotations

import pytest

import synapsekit
from conftest import RecordingSink
from synapsekit import LLMConfig
from synapsekit._llms.openai_llm import OpenAILLM
from synapsekit.testing import LLMTestServer


@pytest.fixture
def llm(server: LLMTestServer) -> OpenAILLM:
    return OpenAILLM(
        LLMConfig(
            model="gpt-4o-mini",
            api_key="test-key",
            base_url=server.openai_base_url,
            max_retries=0,
            timeout=30,
            system_prompt="Be brief",
            max_tokens=6,
            temperature=0.5,
        )
    )


@pytest.mark.parametrize("sdk_instrumented", [True, False], ids=["sdk-instrumented", "sdk-bare"])
async def test_generate_is_counted_once(
    llm: OpenAILLM, server: LLMTestServer, sink: RecordingSink, sdk_instrumented: bool
) -> None:
    if sdk_instrumented:
        synapsekit.instrument("openai")
    try:
        with synapsekit.track() as tally:
            text = await llm.generate("one two three")
    finally:
        synapsekit.uninstrument("openai")
    assert text == "Hello from the synapsekit test server:"
    assert (tally.calls, tally.input_tokens, tally.output_tokens, tally.estimated_calls) == (1, 5, 6, 0)
    call = sink.only
    assert (call.provider, call.request_model, call.response_model) == (
        "openai",
        "gpt-4o-mini",
        "gpt-4o-mini",
    )
    assert call.finish_reasons == ("length",)
    assert call.wire is sdk_instrumented
    assert server.requests[-1].json == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "one two three"}],
        "temperature": 0.5,
        "max_tokens": 6,
    }


@pytest.mark.parametrize("sdk_instrumented", [True, False], ids=["sdk-instrumented", "sdk-bare"])
async def test_stream_is_counted_once(llm: OpenAILLM, sink: RecordingSink, sdk_instrumented: bool) -> None:
    if sdk_instrumented:
        synapsekit.instrument("openai")
    try:
        with synapsekit.track() as tally:
            chunks = [chunk async for chunk in llm.stream("one two three", max_tokens=3)]
    finally:
        synapsekit.uninstrument("openai")
    assert chunks == ["Hello", " from", " the"]
    assert (tally.calls, tally.input_tokens, tally.output_tokens, tally.estimated_calls) == (1, 5, 3, 0)
    assert sink.only.streamed is True


async def test_stream_broken_off_is_counted_once(llm: OpenAILLM, sink: RecordingSink) -> None:
    synapsekit.instrument("openai")
    try:
        stream = llm.stream("one two three")
        async for _chunk in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        synapsekit.uninstrument("openai")
    assert len(sink.ended) == 1


async def test_provider_error_reaches_the_caller(llm: OpenAILLM, sink: RecordingSink) -> None:
    import openai

    synapsekit.instrument("openai")
    try:
        with pytest.raises(openai.RateLimitError):
            await llm.generate("hi", extra_headers={"x-test-status": "429"})
    finally:
        synapsekit.uninstrument("openai")
    assert sink.only.error_type == "RateLimitError"


def test_provider_comes_from_config_or_base_url() -> None:
    assert OpenAILLM(LLMConfig(model="m")).provider_name == "openai"
    assert OpenAILLM(LLMConfig(model="m", base_url="https://api.groq.com/openai/v1")).provider_name == "groq"
    assert OpenAILLM(LLMConfig(model="m", base_url="http://localhost:11434/v1")).provider_name == "ollama"
    assert OpenAILLM(LLMConfig(model="m", provider="vllm", base_url="http://x:8000")).provider_name == "vllm"


def test_client_is_built_from_the_config_on_first_use() -> None:
    llm = OpenAILLM(
        LLMConfig(model="m", api_key="secret", base_url="http://127.0.0.1:9/v1", timeout=7, max_retries=1)
    )
    client = llm.client
    assert client is llm.client
    assert (client.api_key, str(client.base_url), client.timeout, client.max_retries) == (
        "secret",
        "http://127.0.0.1:9/v1/",
        7,
        1,
    )
    assert "secret" not in repr(llm.config)

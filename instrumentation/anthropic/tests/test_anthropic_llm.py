"""``AnthropicLLM``: exact usage on its own, counted once when the SDK is instrumented too."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest
from _anthropic_testkit import MODEL, PROMPT, RecordingSink

import synapsekit
from synapsekit import LLMConfig
from synapsekit._llms.anthropic_llm import DEFAULT_MAX_TOKENS, AnthropicLLM
from synapsekit.observability import TokenTracer
from synapsekit.testing import LLMTestServer, completion_text


@pytest.fixture(params=["sdk_instrumented", "sdk_plain"])
def layers(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sdk_instrumented":
        synapsekit.instrument("anthropic")
    yield request.param
    synapsekit.uninstrument("anthropic")


def llm_for(server: LLMTestServer, **config: object) -> AnthropicLLM:
    return AnthropicLLM(
        LLMConfig(
            model=MODEL, api_key="test-key", base_url=server.anthropic_base_url, max_retries=0, **config
        )  # type: ignore[arg-type]
    )


async def test_generate_is_counted_once(layers: str, server: LLMTestServer, sink: RecordingSink) -> None:
    server_with_cache = llm_for(server, extra={"extra_headers": {"x-test-cached-tokens": "3"}})
    tracer = TokenTracer(server_with_cache)
    assert await tracer.generate(PROMPT) == completion_text(12)
    assert tracer.tokens_used == {"input": 7, "output": 12, "total": 19}
    [call] = sink.ended
    assert (call.provider, call.model, call.cached_input_tokens, call.usage_estimated) == (
        "anthropic",
        MODEL,
        3,
        False,
    )
    assert call.finish_reasons == ("end_turn",)
    # Only the SDK layer knows where the request went.
    assert call.server_port == (server.port if layers == "sdk_instrumented" else None)
    assert server.requests[0].json["max_tokens"] == DEFAULT_MAX_TOKENS


async def test_stream_is_counted_once(layers: str, server: LLMTestServer, sink: RecordingSink) -> None:
    tracer = TokenTracer(llm_for(server, max_tokens=5))
    chunks = [chunk async for chunk in tracer.stream(PROMPT)]
    assert chunks == ["Hello", " from", " the", " synapsekit", " test"]
    assert tracer.tokens_used == {"input": 7, "output": 5, "total": 12}
    [call] = sink.ended
    assert (call.streamed, call.chunks, call.usage_estimated) == (True, 5, False)
    # A BaseLLM stream yields text and usage only: the stop reason is known when the SDK layer reads it.
    assert call.finish_reasons == (("max_tokens",) if layers == "sdk_instrumented" else ())
    assert server.requests[0].json["max_tokens"] == 5


async def test_stream_left_early_is_finalised_once(
    layers: str, server: LLMTestServer, sink: RecordingSink
) -> None:
    llm = llm_for(server)
    stream = llm.stream(PROMPT)
    assert await stream.__anext__() == "Hello"
    await stream.aclose()
    [call] = sink.ended
    assert (call.output_tokens, call.usage_estimated) == (2, True)
    # The SDK layer read the input off message_start; the BaseLLM alone estimates it from the prompt.
    assert call.input_tokens == (7 if layers == "sdk_instrumented" else 9)


async def test_config_reaches_the_request(server: LLMTestServer) -> None:
    llm = llm_for(server, system_prompt="be brief", temperature=0.5, extra={"extra_body": {"top_k": 3}})
    await llm.generate(PROMPT, max_tokens=3)
    body = server.requests[0].json
    assert (body["system"], body["temperature"], body["top_k"], body["max_tokens"]) == ("be brief", 0.5, 3, 3)
    assert body["messages"] == [{"role": "user", "content": PROMPT}]


async def test_errors_pass_through(server: LLMTestServer, sink: RecordingSink) -> None:
    server.fail_next(429)
    with pytest.raises(anthropic.RateLimitError):
        await llm_for(server).generate(PROMPT)
    assert [call.error_type for call in sink.ended] == ["RateLimitError"]


def test_client_is_built_from_the_config_lazily(server: LLMTestServer) -> None:
    llm = AnthropicLLM(
        LLMConfig(model=MODEL, api_key="k", base_url=server.anthropic_base_url, timeout=7, max_retries=1)
    )
    client = llm.client
    assert isinstance(client, anthropic.AsyncAnthropic)
    assert (client.api_key, client.max_retries, client.timeout) == ("k", 1, 7)
    assert llm.client is client
    shared = anthropic.AsyncAnthropic(api_key="other")
    assert AnthropicLLM(LLMConfig(model=MODEL), client=shared).client is shared
    assert repr(llm) == f"AnthropicLLM(model='{MODEL}')"

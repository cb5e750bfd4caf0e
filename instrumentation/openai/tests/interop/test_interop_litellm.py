"""litellm's openai provider over an OpenAI-compatible ``api_base``: every request counted once.

litellm drives the openai SDK through ``client.post("/chat/completions", ...)`` with the raw-response header
and then ``.parse()``, never through ``Completions.create``; streams are parsed from the raw response. It asks
for no usage chunk on a custom ``api_base``, so synapsekit asks and hides it: litellm yields exactly the
chunks it yields uninstrumented.
"""

from __future__ import annotations

from typing import Any

import litellm
import pytest

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer, completion_text

pytestmark = pytest.mark.usefixtures("uninstrument_after")

MODEL = "gpt-4o-mini"
MESSAGES: Any = [{"role": "user", "content": "one two three"}]
CHUNKS = 14  # role chunk, twelve words, finish chunk


def request(own_server: LLMTestServer, **extra: Any) -> dict[str, Any]:
    return {"model": f"openai/{MODEL}", "api_base": own_server.openai_base_url, "api_key": "k", **extra}


def comparable(chunk: Any) -> Any:
    # Ids and timestamps differ between two requests; the rest is what the caller sees.
    return chunk.model_dump(exclude={"id", "created"})


def assert_exact(call: Any, *, streamed: bool) -> None:
    assert (call.provider, call.request_model, call.response_model) == ("openai", MODEL, MODEL)
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.error_type) == (
        3,
        12,
        False,
        None,
    )
    assert (call.streamed, call.chunks) == (streamed, CHUNKS if streamed else 0)


def test_completion_is_counted(own_server: LLMTestServer, sink: CallRecorder) -> None:
    synapsekit.instrument("openai")
    response = litellm.completion(messages=MESSAGES, **request(own_server))
    assert response.choices[0].message.content == completion_text(12)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 12)
    assert_exact(sink.only, streamed=False)
    assert own_server.request_count == 1


async def test_acompletion_is_counted(own_server: LLMTestServer, sink: CallRecorder) -> None:
    synapsekit.instrument("openai")
    await litellm.acompletion(messages=MESSAGES, **request(own_server))
    assert_exact(sink.only, streamed=False)


def test_stream_is_counted_and_yields_what_it_yields_uninstrumented(
    own_server: LLMTestServer, sink: CallRecorder
) -> None:
    bare = list(litellm.completion(messages=MESSAGES, stream=True, **request(own_server)))
    synapsekit.instrument("openai")
    chunks = list(litellm.completion(messages=MESSAGES, stream=True, **request(own_server)))
    assert [comparable(chunk) for chunk in chunks] == [comparable(chunk) for chunk in bare]
    assert own_server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert_exact(sink.only, streamed=True)


async def test_async_stream_is_counted(own_server: LLMTestServer, sink: CallRecorder) -> None:
    bare = [
        chunk
        async for chunk in await litellm.acompletion(messages=MESSAGES, stream=True, **request(own_server))
    ]
    synapsekit.instrument("openai")
    stream = await litellm.acompletion(messages=MESSAGES, stream=True, **request(own_server))
    chunks = [chunk async for chunk in stream]
    assert [comparable(chunk) for chunk in chunks] == [comparable(chunk) for chunk in bare]
    assert_exact(sink.only, streamed=True)


def test_embedding_is_counted(own_server: LLMTestServer, sink: CallRecorder) -> None:
    synapsekit.instrument("openai")
    litellm.embedding(
        model="openai/text-embedding-3-small",
        api_base=own_server.openai_base_url,
        api_key="k",
        input=["a b c"],
    )
    call = sink.only
    assert (call.operation, call.input_tokens, call.output_tokens, call.usage_estimated) == (
        "embeddings",
        3,
        0,
        False,
    )


def test_a_too_small_budget_refuses_with_no_request_sent(
    own_server: LLMTestServer, sink: CallRecorder
) -> None:
    synapsekit.instrument("openai")
    # litellm maps every exception of the provider call to one of its own; the refusal's message is kept.
    with (
        synapsekit.budget(max_tokens=1),
        pytest.raises(litellm.InternalServerError, match="would be exceeded"),
    ):
        litellm.completion(messages=MESSAGES, **request(own_server))
    assert own_server.request_count == 0
    assert sink.only.rejected is True


def test_one_span_per_request(own_server: LLMTestServer, sink: CallRecorder, span_exporter: Any) -> None:
    synapsekit.instrument("openai")
    litellm.completion(messages=MESSAGES, **request(own_server))
    list(litellm.completion(messages=MESSAGES, stream=True, **request(own_server)))
    spans = [
        span for span in span_exporter.get_finished_spans() if span.instrumentation_scope.name == "synapsekit"
    ]
    assert [span.name for span in spans] == [f"chat {MODEL}"] * 2
    assert [span.attributes["gen_ai.usage.output_tokens"] for span in spans] == [12, 12]
    assert len(sink.ended) == 2

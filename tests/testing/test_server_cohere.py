"""The LLM test server against the real cohere SDK (``ClientV2`` / ``AsyncClientV2``)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

import cohere
import httpx
import pytest

from synapsekit.testing import LLMTestServer
from synapsekit.testing._cohere import TEMPLATE_INPUT_TOKENS, TEMPLATE_OUTPUT_TOKENS

TWELVE_WORDS = "Hello from the synapsekit test server: every word here is one token."
DELTAS = [word if i == 0 else f" {word}" for i, word in enumerate(TWELVE_WORDS.split())]
USER: list[Any] = [{"role": "user", "content": "How are you today"}]  # 4 words

# The SDK's own models still read pydantic v1's ``__fields__``.
pytestmark = pytest.mark.filterwarnings("ignore:The `__fields__` attribute is deprecated:DeprecationWarning")


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def client(server: LLMTestServer) -> cohere.ClientV2:
    # The SDK retries 429s and 5xx twice by default.
    return cohere.ClientV2(api_key="test", base_url=server.cohere_base_url, max_retries=0)


@pytest.fixture
def aclient(server: LLMTestServer) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key="test", base_url=server.cohere_base_url, max_retries=0)


def usage_numbers(usage: cohere.Usage | None) -> tuple[Any, ...]:
    assert usage is not None and usage.billed_units is not None and usage.tokens is not None
    return (
        usage.billed_units.input_tokens,
        usage.billed_units.output_tokens,
        usage.tokens.input_tokens,
        usage.tokens.output_tokens,
        usage.cached_tokens,
    )


def test_the_template_token_rule() -> None:
    assert (TEMPLATE_INPUT_TOKENS, TEMPLATE_OUTPUT_TOKENS) == (64, 1)


# -- chat ------------------------------------------------------------------------------------------------


def test_chat_sync_billed_units_and_tokens(client: cohere.ClientV2, server: LLMTestServer) -> None:
    response = client.chat(model="command-a-03-2025", messages=USER)
    assert response.id == "00000000-0000-0000-0000-000000000001"
    assert response.finish_reason == "COMPLETE"
    assert response.message.role == "assistant"
    assert response.message.content is not None
    assert [(item.type, item.text) for item in response.message.content] == [("text", TWELVE_WORDS)]
    # Billed: the counted words; tokens: plus 64 prompt-template tokens and 1 end-of-turn token.
    assert usage_numbers(response.usage) == (4, 12, 68, 13, 0)
    request = server.requests[0]
    assert request.path == "/v2/chat"
    assert request.headers["authorization"] == "Bearer test"
    assert request.json == {"model": "command-a-03-2025", "messages": USER, "stream": False}


async def test_chat_async_capped(aclient: cohere.AsyncClientV2) -> None:
    response = await aclient.chat(model="command-r-plus", messages=USER, max_tokens=3)
    assert response.finish_reason == "MAX_TOKENS"
    assert response.message.content is not None
    assert response.message.content[0].text == "Hello from the"  # type: ignore[union-attr]
    assert usage_numbers(response.usage) == (4, 3, 68, 4, 0)


def test_chat_counts_every_message_and_text_part(client: cohere.ClientV2) -> None:
    response = client.chat(
        model="command-a-03-2025",
        messages=[
            {"role": "system", "content": "Answer in French"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}],
            },
            {"role": "assistant", "content": "four"},
        ],
        request_options={"additional_headers": {"x-test-cached-tokens": "5"}},
    )
    assert usage_numbers(response.usage) == (7, 12, 71, 13, 5)


def check_stream(events: list[Any], *, words: int = 12, finish: str = "COMPLETE") -> None:
    assert [event.type for event in events] == [
        "message-start",
        "content-start",
        *["content-delta"] * words,
        "content-end",
        "message-end",
    ]
    assert events[0].id == "00000000-0000-0000-0000-000000000001"
    assert events[0].delta.message.role == "assistant"
    assert events[1].delta.message.content.type == "text"
    assert [event.delta.message.content.text for event in events[2:-2]] == DELTAS[:words]
    end = events[-1]
    assert end.delta.finish_reason == finish
    assert usage_numbers(end.delta.usage) == (4, words, 68, words + 1, 0)


def test_chat_stream_sync(client: cohere.ClientV2, server: LLMTestServer) -> None:
    check_stream(list(client.chat_stream(model="command-a-03-2025", messages=USER)))
    assert server.requests[0].json["stream"] is True


async def test_chat_stream_async(aclient: cohere.AsyncClientV2) -> None:
    events = [
        event async for event in aclient.chat_stream(model="command-a-03-2025", messages=USER, max_tokens=2)
    ]
    check_stream(events, words=2, finish="MAX_TOKENS")


def test_chat_stream_drop_after_raises(client: cohere.ClientV2) -> None:
    received: list[Any] = []
    stream = client.chat_stream(
        model="command-a-03-2025",
        messages=USER,
        request_options={"additional_headers": {"x-test-drop-after": "1"}},
    )
    with pytest.raises(httpx.RemoteProtocolError):
        received.extend(stream)
    assert [event.type for event in received] == ["message-start", "content-start", "content-delta"]


# -- embed -----------------------------------------------------------------------------------------------


def test_embed_every_embedding_type(client: cohere.ClientV2) -> None:
    result = client.embed(
        model="embed-v4.0",
        texts=["one two", "three"],
        input_type="search_document",
        embedding_types=["float", "int8", "uint8", "base64"],
        output_dimension=4,
    )
    assert result.texts == ["one two", "three"]
    embeddings = result.embeddings
    assert embeddings.float_ is not None and embeddings.base64 is not None
    assert [len(vector) for vector in embeddings.float_] == [4, 4]
    assert [
        list(struct.unpack("<4f", base64.b64decode(item))) for item in embeddings.base64
    ] == embeddings.float_
    assert embeddings.int8 == [[round(v * 127) for v in vector] for vector in embeddings.float_]
    assert embeddings.uint8 == [[round(v * 127) + 128 for v in vector] for vector in embeddings.float_]
    assert result.meta is not None and result.meta.billed_units is not None
    assert result.meta.billed_units.input_tokens == 3


async def test_embed_async_inputs_and_override(aclient: cohere.AsyncClientV2) -> None:
    result = await aclient.embed(
        model="embed-v4.0",
        inputs=[{"content": [{"type": "text", "text": "one two three"}]}],
        input_type="search_query",
        embedding_types=["float"],
        request_options={"additional_headers": {"x-test-input-tokens": "11"}},
    )
    assert result.embeddings.float_ is not None
    assert len(result.embeddings.float_[0]) == 8
    assert result.meta is not None and result.meta.billed_units is not None
    assert result.meta.billed_units.input_tokens == 11


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (429, cohere.TooManyRequestsError),
        (400, cohere.BadRequestError),
        (401, cohere.UnauthorizedError),
        (404, cohere.NotFoundError),
        (500, cohere.InternalServerError),
        (503, cohere.ServiceUnavailableError),
    ],
)
def test_status_header_raises_the_sdk_error(
    client: cohere.ClientV2, status: int, error_class: type[cohere.core.ApiError]
) -> None:
    with pytest.raises(error_class) as caught:
        client.chat(
            model="command-a-03-2025",
            messages=USER,
            request_options={"additional_headers": {"x-test-status": str(status)}},
        )
    assert caught.value.status_code == status
    assert caught.value.body == {
        "id": "req_000000000000000000000001",
        "message": f"Injected failure: HTTP {status} (x-test-status header).",
    }


async def test_fail_next_on_an_async_stream(aclient: cohere.AsyncClientV2, server: LLMTestServer) -> None:
    server.fail_next(429)
    with pytest.raises(cohere.TooManyRequestsError):
        await anext(aiter(aclient.chat_stream(model="command-a-03-2025", messages=USER)))
    assert server.request_count == 1


def test_bad_embedding_type_is_a_400(client: cohere.ClientV2) -> None:
    with pytest.raises(cohere.BadRequestError):
        client.embed(model="embed-v4.0", texts=["x"], input_type="search_query", embedding_types=["binary"])

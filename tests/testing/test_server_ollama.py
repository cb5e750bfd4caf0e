"""The LLM test server against the real ollama SDK (``Client(host=server.ollama_base_url)``)."""

from __future__ import annotations

import http.client
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest

from synapsekit.testing import LLMTestServer

TWELVE_WORDS = "Hello from the synapsekit test server: every word here is one token."
DELTAS = [word if i == 0 else f" {word}" for i, word in enumerate(TWELVE_WORDS.split())]
USER: list[Any] = [{"role": "user", "content": "How are you today"}]  # 4 words


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def client(server: LLMTestServer) -> ollama.Client:
    return ollama.Client(host=server.ollama_base_url)


@pytest.fixture
def aclient(server: LLMTestServer) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=server.ollama_base_url)


def counts(response: ollama.ChatResponse | ollama.GenerateResponse) -> tuple[Any, ...]:
    return response.done, response.done_reason, response.prompt_eval_count, response.eval_count


# -- chat ------------------------------------------------------------------------------------------------


def test_chat_sync_exact_counts_and_text(client: ollama.Client, server: LLMTestServer) -> None:
    response = client.chat(model="llama3.2", messages=USER)
    assert response.model == "llama3.2"
    assert response.message.role == "assistant"
    assert response.message.content == TWELVE_WORDS
    assert counts(response) == (True, "stop", 4, 12)
    # Durations are exact: 1 ms (in nanoseconds) per counted token.
    assert (response.prompt_eval_duration, response.eval_duration) == (4_000_000, 12_000_000)
    assert (response.load_duration, response.total_duration) == (0, 16_000_000)
    assert response.created_at is not None and response.created_at.endswith("Z")
    request = server.requests[0]
    assert request.path == "/api/chat"
    assert request.json["stream"] is False


async def test_chat_async_capped_by_num_predict(aclient: ollama.AsyncClient) -> None:
    response = await aclient.chat(model="qwen3", messages=USER, options={"num_predict": 3})
    assert response.message.content == "Hello from the"
    assert counts(response) == (True, "length", 4, 3)


def test_negative_num_predict_does_not_cap(client: ollama.Client) -> None:
    response = client.chat(model="llama3.2", messages=USER, options={"num_predict": -1})
    assert counts(response) == (True, "stop", 4, 12)


def test_chat_stream_sync_is_ndjson(client: ollama.Client) -> None:
    parts = list(client.chat(model="llama3.2", messages=USER, stream=True))
    assert [part.message.content for part in parts[:-1]] == DELTAS
    assert all(counts(part) == (False, None, None, None) for part in parts[:-1])
    last = parts[-1]
    assert last.message.content == ""
    assert counts(last) == (True, "stop", 4, 12)


async def test_chat_stream_async(aclient: ollama.AsyncClient) -> None:
    stream = await aclient.chat(
        model="llama3.2", messages=USER, stream=True, options={"num_predict": 2}, keep_alive="5m"
    )
    parts = [part async for part in stream]
    assert "".join(part.message.content or "" for part in parts) == "Hello from"
    assert counts(parts[-1]) == (True, "length", 4, 2)


def test_stream_is_the_default_without_a_stream_field(server: LLMTestServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        body = json.dumps({"model": "llama3.2", "prompt": "hi", "options": {"num_predict": 2}})
        connection.request("POST", "/api/generate", body=body)
        response = connection.getresponse()
        content_type = response.getheader("Content-Type")
        lines = response.read().decode().splitlines()
    finally:
        connection.close()
    assert content_type == "application/x-ndjson"
    assert [json.loads(line)["response"] for line in lines] == ["Hello", " from", ""]


def test_header_overrides(server: LLMTestServer) -> None:
    client = ollama.Client(
        host=server.ollama_base_url, headers={"x-test-input-tokens": "40", "x-test-output-tokens": "1"}
    )
    assert counts(client.chat(model="llama3.2", messages=USER)) == (True, "stop", 40, 1)


# -- generate --------------------------------------------------------------------------------------------


def test_generate_counts_system_and_prompt(client: ollama.Client, server: LLMTestServer) -> None:
    response = client.generate(model="llama3.2", prompt="How are you today", system="Be brief")
    assert response.response == TWELVE_WORDS
    assert counts(response) == (True, "stop", 6, 12)
    assert server.requests[0].path == "/api/generate"


def test_generate_stream_sync(client: ollama.Client) -> None:
    parts = list(client.generate(model="llama3.2", prompt="How are you today", stream=True))
    assert [part.response for part in parts] == [*DELTAS, ""]
    assert counts(parts[-1]) == (True, "stop", 4, 12)


async def test_generate_stream_async_capped(aclient: ollama.AsyncClient) -> None:
    stream = await aclient.generate(model="llama3.2", prompt="hi", stream=True, options={"num_predict": 1})
    parts = [part async for part in stream]
    assert [part.response for part in parts] == ["Hello", ""]
    assert counts(parts[-1]) == (True, "length", 1, 1)


def test_stream_drop_after_raises(server: LLMTestServer) -> None:
    received: list[Any] = []
    client = ollama.Client(host=server.ollama_base_url, headers={"x-test-drop-after": "2"})
    stream = client.generate(model="llama3.2", prompt="hi", stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        received.extend(stream)
    assert [part.response for part in received] == ["Hello", " from"]


# -- embed -----------------------------------------------------------------------------------------------


def test_embed_sync(client: ollama.Client) -> None:
    result = client.embed(model="all-minilm", input=["one two", "three"])
    assert result.model == "all-minilm"
    assert [len(vector) for vector in result.embeddings] == [8, 8]
    assert math.fsum(v * v for v in result.embeddings[0]) == pytest.approx(1.0, abs=1e-6)
    assert result.prompt_eval_count == 3


async def test_embed_async_with_dimensions(aclient: ollama.AsyncClient) -> None:
    result = await aclient.embed(model="all-minilm", input="one two", dimensions=4)
    assert [len(vector) for vector in result.embeddings] == [4]
    assert result.prompt_eval_count == 2


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 400, 404, 500, 503])
def test_status_header_raises_response_error(server: LLMTestServer, status: int) -> None:
    client = ollama.Client(host=server.ollama_base_url, headers={"x-test-status": str(status)})
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama3.2", messages=USER)
    assert caught.value.status_code == status
    assert caught.value.error == f"Injected failure: HTTP {status} (x-test-status header)."


async def test_fail_next_on_an_async_stream(aclient: ollama.AsyncClient, server: LLMTestServer) -> None:
    server.fail_next(503)
    stream = await aclient.chat(model="llama3.2", messages=USER, stream=True)
    with pytest.raises(ollama.ResponseError) as caught:
        await anext(aiter(stream))
    assert caught.value.status_code == 503


def test_bad_num_predict_is_a_400(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama3.2", messages=USER, options={"num_predict": "many"})  # type: ignore[dict-item]
    assert caught.value.status_code == 400

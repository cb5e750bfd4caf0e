"""Base URLs, routing and error formats of the providers added beside OpenAI and Anthropic."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from synapsekit.testing import LLMTestServer


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


def request(
    server: LLMTestServer, method: str, path: str, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(payload)
    finally:
        connection.close()


def test_base_url_properties(server: LLMTestServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    assert (server.gemini_base_url, server.bedrock_base_url, server.cohere_base_url) == (base, base, base)
    assert server.ollama_base_url == base
    assert server.mistral_base_url == f"{base}/mistral"


def test_base_urls_need_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = LLMTestServer().mistral_base_url


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1beta/models/gemini-x:countTokens", {"error": {"code": 404, "status": "NOT_FOUND"}}),
        ("/model/m/unknown", {}),
        ("/mistral/v1/fim/completions", {"object": "error", "type": "not_found"}),
        ("/v2/rerank", {}),
        ("/api/tags", {}),
    ],
)
def test_unknown_paths_are_404_in_the_providers_format(
    server: LLMTestServer, path: str, body: dict[str, Any]
) -> None:
    status, headers, payload = request(server, "POST", path)
    assert status == 404
    message = f"Unknown request URL: POST {path}."
    if path.startswith("/model/"):
        assert payload == {"message": message}
        assert headers["x-amzn-errortype"].startswith("ResourceNotFoundException:")
    elif path.startswith("/v2/"):
        assert payload == {"id": "req_000000000000000000000001", "message": message}
    elif path.startswith("/api/"):
        assert payload == {"error": message}
    elif "error" in body:
        assert payload == {"error": {**body["error"], "message": message}}
    else:
        assert {key: payload[key] for key in body} == body
        assert payload["message"] == message
    assert server.request_count == 0


@pytest.mark.parametrize(
    "path", ["/api/chat", "/v2/chat", "/model/m/converse", "/v1/models/m:generateContent"]
)
def test_get_on_a_model_path_is_404(server: LLMTestServer, path: str) -> None:
    assert request(server, "GET", path, b"")[0] == 404
    assert server.request_count == 0


def test_a_body_that_is_not_json_is_a_provider_400(server: LLMTestServer) -> None:
    status, headers, payload = request(
        server, "POST", "/model/meta.llama3-8b-instruct-v1%3A0/invoke", b"nope"
    )
    assert status == 400
    assert headers["x-amzn-errortype"].startswith("ValidationException:")
    assert payload["message"].startswith("We could not parse the JSON body")
    status, _, payload = request(server, "POST", "/api/chat", b"[1]")
    assert (status, list(payload)) == (400, ["error"])
    recorded = server.requests
    assert [(r.path, r.json) for r in recorded] == [
        ("/model/meta.llama3-8b-instruct-v1%3A0/invoke", None),
        ("/api/chat", [1]),
    ]


def test_bedrock_answers_carry_the_aws_request_id(server: LLMTestServer) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}).encode()
    status, headers, _ = request(server, "POST", "/model/m/converse", body)
    assert status == 200
    assert headers["x-amzn-requestid"] == headers["x-request-id"] == "req_000000000000000000000001"
    assert "x-amzn-requestid" not in request(server, "POST", "/api/embed", b'{"model": "e", "input": "x"}')[1]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/chat", {"model": "c", "messages": []}),
        ("/v2/embed", {"model": "c", "texts": []}),
        ("/api/embed", {"model": "o", "input": []}),
        ("/mistral/v1/embeddings", {"model": "m", "input": [1, 2]}),
        ("/mistral/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}),
        ("/v1beta/models/g:batchEmbedContents", {"requests": []}),
        ("/v1beta/models/g:generateContent", {"contents": [{"parts": []}], "generationConfig": []}),
        ("/v1beta1/publishers/google/models/t:predict", {"instances": [{"content": 1}]}),
        ("/model/m/converse", {"messages": [{"role": "user"}], "inferenceConfig": {"maxTokens": -1}}),
        ("/model/meta.llama/invoke", {"prompt": 3}),
    ],
)
def test_invalid_bodies_are_400(server: LLMTestServer, path: str, body: dict[str, Any]) -> None:
    assert request(server, "POST", path, json.dumps(body).encode())[0] == 400


def test_groq_and_usage_on_last_chunk_base_urls(server: LLMTestServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    assert server.groq_base_url == base
    assert (server.cerebras_base_url, server.together_base_url, server.fireworks_base_url) == (
        f"{base}/cerebras",
        f"{base}/together",
        f"{base}/fireworks",
    )


def _sse_payloads(server: LLMTestServer, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", path, body=json.dumps(body).encode())
        response = connection.getresponse()
        assert response.status == 200
        lines = response.read().decode().splitlines()
    finally:
        connection.close()
    data = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


CHAT = {"model": "m", "messages": [{"role": "user", "content": "one two three"}], "max_tokens": 4}
USAGE = {
    "prompt_tokens": 3,
    "completion_tokens": 4,
    "total_tokens": 7,
    "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def test_groq_path_answers_openai_chat(server: LLMTestServer) -> None:
    status, _, payload = request(server, "POST", "/openai/v1/chat/completions", json.dumps(CHAT).encode())
    assert (status, payload["usage"], payload["choices"][0]["finish_reason"]) == (200, USAGE, "length")
    chunks = _sse_payloads(
        server,
        "/openai/v1/chat/completions",
        {**CHAT, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert (chunks[-1]["choices"], chunks[-1]["usage"]) == ([], USAGE)  # OpenAI's usage-only chunk


@pytest.mark.parametrize("prefix", ["/cerebras", "/together", "/fireworks"])
@pytest.mark.parametrize("stream_options", [None, {"include_usage": True}, {"include_usage": False}])
def test_usage_on_last_chunk_dialect(
    server: LLMTestServer, prefix: str, stream_options: dict[str, bool] | None
) -> None:
    body: dict[str, Any] = {**CHAT, "stream": True}
    if stream_options is not None:
        body["stream_options"] = stream_options
    chunks = _sse_payloads(server, f"{prefix}/v1/chat/completions", body)
    # Role chunk, four words, the finish chunk with usage; no usage-only chunk, no usage on earlier chunks.
    assert len(chunks) == 6
    assert all("usage" not in chunk for chunk in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"] == USAGE
    status, _, payload = request(server, "POST", f"{prefix}/v1/chat/completions", json.dumps(CHAT).encode())
    assert (status, payload["usage"]) == (200, USAGE)

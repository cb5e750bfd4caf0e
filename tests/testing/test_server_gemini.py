"""The LLM test server against the real google-genai SDK: Gemini API and Vertex AI mode."""

from __future__ import annotations

import http.client
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx2
import pydantic
import pytest
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from synapsekit.testing import LLMTestServer

TWELVE_WORDS = "Hello from the synapsekit test server: every word here is one token."
PROMPT = "How are you today"  # 4 words


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def client(server: LLMTestServer) -> genai.Client:
    return genai.Client(api_key="test", http_options={"base_url": server.gemini_base_url})


@pytest.fixture
def vertex(server: LLMTestServer) -> genai.Client:
    # Vertex with a project needs OAuth credentials: a token that is set and not expired is used as is.
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token="test-token"),  # type: ignore[no-untyped-call]
        http_options={"base_url": server.gemini_base_url},
    )


def headers(**values: str) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(http_options=types.HttpOptions(headers=values))


def raw_post(server: LLMTestServer, path: str, body: Any) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def usage_numbers(usage: types.GenerateContentResponseUsageMetadata | None) -> tuple[Any, ...]:
    assert usage is not None
    return (
        usage.prompt_token_count,
        usage.candidates_token_count,
        usage.total_token_count,
        usage.cached_content_token_count,
        usage.thoughts_token_count,
    )


# -- generateContent -------------------------------------------------------------------------------------


def test_generate_content_sync_exact_usage_and_text(client: genai.Client, server: LLMTestServer) -> None:
    response = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert response.text == TWELVE_WORDS
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.model_version == "gemini-2.5-flash"
    assert response.response_id == "000000000000000000000001"
    # Zero cache and thoughts counts are left out, as the real API leaves them out.
    assert usage_numbers(response.usage_metadata) == (4, 12, 16, None, None)
    assert response.usage_metadata is not None
    assert response.usage_metadata.traffic_type is None
    request = server.requests[0]
    assert request.path == "/v1/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == "test"
    assert request.json == {"contents": [{"parts": [{"text": PROMPT}], "role": "user"}]}


async def test_generate_content_async(client: genai.Client) -> None:
    response = await client.aio.models.generate_content(
        model="gemini-2.5-pro", contents=PROMPT, config={"max_output_tokens": 3}
    )
    assert response.text == "Hello from the"
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert usage_numbers(response.usage_metadata) == (4, 3, 7, None, None)


def test_counts_system_instruction_and_every_text_part(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            types.Content(role="user", parts=[types.Part(text="one two"), types.Part(text="three")]),
            types.Content(role="model", parts=[types.Part(text="four")]),
            types.Content(role="user", parts=[types.Part(text="five six")]),
        ],
        config={"system_instruction": "Answer in French", "max_output_tokens": 12},
    )
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert usage_numbers(response.usage_metadata) == (9, 12, 21, None, None)


def test_cached_and_thoughts_tokens_from_headers(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=PROMPT,
        config=headers(
            **{
                "x-test-input-tokens": "100",
                "x-test-cached-tokens": "80",
                "x-test-output-tokens": "5",
                "x-test-reasoning-tokens": "2",
            }
        ),
    )
    # The prompt count includes the cache; the thoughts sit beside the candidates; the total adds both.
    assert usage_numbers(response.usage_metadata) == (100, 3, 105, 80, 2)
    assert response.text == "Hello from the synapsekit test"
    assert response.usage_metadata is not None
    assert response.usage_metadata.cache_tokens_details is not None
    assert response.usage_metadata.cache_tokens_details[0].token_count == 80


def test_response_models_rename_model_version() -> None:
    with LLMTestServer(
        response_models={"gemini-2.5-flash": "gemini-2.5-flash-001"}, output_tokens=2
    ) as server:
        client = genai.Client(api_key="test", http_options={"base_url": server.gemini_base_url})
        response = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert response.model_version == "gemini-2.5-flash-001"
    assert response.text == "Hello from"


class City(pydantic.BaseModel):
    name: str
    population: int
    tags: list[str]


def test_response_schema_fills_a_pydantic_model(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=PROMPT,
        config={"response_mime_type": "application/json", "response_schema": City},
    )
    assert response.parsed == City(name="Hello", population=1, tags=["from"])
    assert usage_numbers(response.usage_metadata) == (4, 12, 16, None, None)


# -- streamGenerateContent -------------------------------------------------------------------------------


def check_stream(chunks: list[types.GenerateContentResponse], *, words: int = 12) -> None:
    assert len(chunks) == words + 1
    assert [chunk.text for chunk in chunks[:-1]] == [
        word if i == 0 else f" {word}" for i, word in enumerate(TWELVE_WORDS.split()[:words])
    ]
    assert "".join(chunk.text or "" for chunk in chunks) == " ".join(TWELVE_WORDS.split()[:words])
    for chunk in chunks[:-1]:
        assert chunk.candidates is not None
        assert chunk.candidates[0].finish_reason is None
        # Every chunk carries usage; before the end it holds the prompt count only.
        assert usage_numbers(chunk.usage_metadata) == (4, None, 4, None, None)
    last = chunks[-1]
    assert last.candidates is not None
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert usage_numbers(last.usage_metadata) == (4, words, 4 + words, None, None)
    assert len({chunk.response_id for chunk in chunks}) == 1


def test_stream_sync_one_word_per_chunk(client: genai.Client, server: LLMTestServer) -> None:
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT))
    check_stream(chunks)
    assert server.requests[0].path == "/v1/models/gemini-2.5-flash:streamGenerateContent"


async def test_stream_async(client: genai.Client) -> None:
    stream = await client.aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents=PROMPT, config=headers(**{"x-test-output-tokens": "3"})
    )
    check_stream([chunk async for chunk in stream], words=3)


def test_stream_reports_thoughts_and_cache_on_the_last_chunk(client: genai.Client) -> None:
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.5-flash",
            contents=PROMPT,
            config=headers(**{"x-test-reasoning-tokens": "4", "x-test-cached-tokens": "3"}),
        )
    )
    assert usage_numbers(chunks[0].usage_metadata) == (4, None, 4, 3, None)
    assert usage_numbers(chunks[-1].usage_metadata) == (4, 8, 16, 3, 4)


def test_stream_capped_by_max_output_tokens(client: genai.Client) -> None:
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.5-flash", contents=PROMPT, config={"max_output_tokens": 2}
        )
    )
    assert "".join(chunk.text or "" for chunk in chunks) == "Hello from"
    assert chunks[-1].candidates is not None
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert usage_numbers(chunks[-1].usage_metadata) == (4, 2, 6, None, None)


def test_stream_drop_after_cuts_the_connection(client: genai.Client) -> None:
    received: list[str | None] = []
    stream = client.models.generate_content_stream(
        model="gemini-2.5-flash", contents=PROMPT, config=headers(**{"x-test-drop-after": "2"})
    )
    with pytest.raises(httpx2.RemoteProtocolError):
        received.extend(chunk.text for chunk in stream)
    assert received == ["Hello", " from"]


def test_stream_without_alt_sse_is_a_400(server: LLMTestServer) -> None:
    status, body = raw_post(
        server, "/v1beta/models/m:streamGenerateContent", {"contents": [{"parts": [{"text": "x"}]}]}
    )
    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"


# -- embeddings ------------------------------------------------------------------------------------------


def test_embed_content_uses_batch_embed_contents(client: genai.Client, server: LLMTestServer) -> None:
    result = client.models.embed_content(
        model="gemini-embedding-001", contents=["one two", "three"], config={"output_dimensionality": 4}
    )
    assert server.requests[0].path == "/v1/models/gemini-embedding-001:batchEmbedContents"
    assert result.embeddings is not None
    vectors = [embedding.values for embedding in result.embeddings]
    assert [len(vector or []) for vector in vectors] == [4, 4]
    assert vectors[0] != vectors[1]
    assert math.fsum(v * v for v in vectors[0] or []) == pytest.approx(1.0, abs=1e-6)
    assert result.usage_metadata is not None
    assert (result.usage_metadata.prompt_token_count, result.usage_metadata.total_token_count) == (3, 3)
    again = client.models.embed_content(model="gemini-embedding-001", contents="one two")
    assert again.embeddings is not None
    assert len(again.embeddings[0].values or []) == 8


async def test_embed_content_async_with_input_override(client: genai.Client) -> None:
    result = await client.aio.models.embed_content(
        model="gemini-embedding-001",
        contents="one two",
        config=types.EmbedContentConfig(http_options=types.HttpOptions(headers={"x-test-input-tokens": "9"})),
    )
    assert result.usage_metadata is not None
    assert result.usage_metadata.prompt_token_count == 9


def test_single_embed_content_endpoint(server: LLMTestServer) -> None:
    status, body = raw_post(
        server,
        "/v1beta/models/gemini-embedding-001:embedContent",
        {"content": {"parts": [{"text": "a b c"}]}, "outputDimensionality": 3},
    )
    assert status == 200
    assert len(body["embedding"]["values"]) == 3
    assert body["usageMetadata"] == {"promptTokenCount": 3, "totalTokenCount": 3}


# -- Vertex AI -------------------------------------------------------------------------------------------


def test_vertex_generate_content_with_project_and_location(
    vertex: genai.Client, server: LLMTestServer
) -> None:
    response = vertex.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert response.text == TWELVE_WORDS
    assert usage_numbers(response.usage_metadata) == (4, 12, 16, None, None)
    assert response.usage_metadata is not None
    assert response.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND
    assert response.create_time is not None
    request = server.requests[0]
    assert request.path == (
        "/v1beta1/projects/test-project/locations/us-central1/publishers/google/models/"
        "gemini-2.5-flash:generateContent"
    )
    assert request.headers["authorization"] == "Bearer test-token"


async def test_vertex_stream_async(vertex: genai.Client) -> None:
    stream = await vertex.aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents=PROMPT, config={"max_output_tokens": 2}
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(chunk.text or "" for chunk in chunks) == "Hello from"
    assert usage_numbers(chunks[-1].usage_metadata) == (4, 2, 6, None, None)


def test_vertex_express_mode_with_an_api_key(server: LLMTestServer) -> None:
    client = genai.Client(vertexai=True, api_key="test", http_options={"base_url": server.gemini_base_url})
    response = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert usage_numbers(response.usage_metadata) == (4, 12, 16, None, None)
    assert server.requests[0].path == "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"


def test_vertex_embeddings_for_each_api(vertex: genai.Client, server: LLMTestServer) -> None:
    single = vertex.models.embed_content(
        model="gemini-embedding-001", contents="one two", config={"output_dimensionality": 5}
    )
    batch = vertex.models.embed_content(model="gemini-embedding-001", contents=["one two", "three"])
    predicted = vertex.models.embed_content(model="text-embedding-005", contents=["one two", "three"])
    assert [request.path.rsplit(":", 1)[1] for request in server.requests] == [
        "embedContent",
        "batchEmbedContents",
        "predict",
    ]
    assert single.embeddings is not None and single.usage_metadata is not None
    assert len(single.embeddings[0].values or []) == 5
    assert single.usage_metadata.prompt_token_count == 2
    assert batch.embeddings is not None and batch.usage_metadata is not None
    assert batch.usage_metadata.prompt_token_count == 3
    assert predicted.embeddings is not None
    statistics = [embedding.statistics for embedding in predicted.embeddings]
    assert [s.token_count for s in statistics if s is not None] == [2, 1]
    assert predicted.metadata is not None
    assert predicted.metadata.billable_character_count == 12
    # The same text gives the same vector through every API.
    assert batch.embeddings[0].values == predicted.embeddings[0].values


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "status_name"),
    [
        (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
        (400, errors.ClientError, "INVALID_ARGUMENT"),
        (403, errors.ClientError, "PERMISSION_DENIED"),
        (500, errors.ServerError, "INTERNAL"),
        (503, errors.ServerError, "UNAVAILABLE"),
    ],
)
def test_status_header_raises_the_sdk_error(
    client: genai.Client, status: int, error_class: type[errors.APIError], status_name: str
) -> None:
    with pytest.raises(error_class) as caught:
        client.models.generate_content(
            model="gemini-2.5-flash", contents=PROMPT, config=headers(**{"x-test-status": str(status)})
        )
    assert (caught.value.code, caught.value.status) == (status, status_name)
    assert caught.value.message == f"Injected failure: HTTP {status} (x-test-status header)."


async def test_fail_next_on_an_async_stream(client: genai.Client, server: LLMTestServer) -> None:
    server.fail_next(429, retry_after=3)
    stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT)
    with pytest.raises(errors.ClientError) as caught:
        await anext(stream)
    assert caught.value.code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    assert server.request_count == 1


def test_vertex_status_header(vertex: genai.Client) -> None:
    with pytest.raises(errors.ServerError) as caught:
        vertex.models.generate_content(
            model="gemini-2.5-flash", contents=PROMPT, config=headers(**{"x-test-status": "503"})
        )
    assert caught.value.status == "UNAVAILABLE"


def test_bad_bodies_and_unknown_methods(server: LLMTestServer) -> None:
    status, body = raw_post(server, "/v1beta/models/m:generateContent", {"contents": []})
    assert status == 400
    assert body["error"] == {
        "code": 400,
        "message": "* GenerateContentRequest.contents: contents is not specified",
        "status": "INVALID_ARGUMENT",
    }
    status, body = raw_post(server, "/v1beta/models/m:countTokens", {})
    assert status == 404
    assert body["error"]["status"] == "NOT_FOUND"
    # :predict exists only on Vertex paths.
    assert raw_post(server, "/v1beta/models/m:predict", {})[0] == 404
    assert server.request_count == 1

"""Shared by the google-genai instrumentation tests: clients, requests, expected prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

from synapsekit.testing import LLMTestServer

# google-genai 1.0 knew neither a response id nor embeddings usage: it drops them while parsing, and the
# embeddings of the Gemini API (which reports no usage in production either) are estimated.
HAS_RESPONSE_ID = "response_id" in types.GenerateContentResponse.model_fields
EMBEDDING_USAGE = "usage_metadata" in types.EmbedContentResponse.model_fields

MODEL = "gemini-2.5-flash"
EMBEDDING_MODEL = "gemini-embedding-001"
PROMPT = "How are you today"  # 4 input tokens on the test server; the answer is 12 tokens by default
TEXT = "Hello from the synapsekit test server: every word here is one token."
WORDS = TEXT.split()
# genai-prices' gemini-2.5-flash rates (USD per token): input, cached input, output (thinking included).
INPUT_RATE = Decimal("0.30") / 1_000_000
CACHED_RATE = Decimal("0.03") / 1_000_000
OUTPUT_RATE = Decimal("2.50") / 1_000_000
EMBEDDING_RATE = Decimal("0.15") / 1_000_000  # gemini-embedding-001, input only


def flash_cost(input_tokens: int, output_tokens: int, cached: int = 0) -> Decimal:
    return (input_tokens - cached) * INPUT_RATE + cached * CACHED_RATE + output_tokens * OUTPUT_RATE


def gemini_client(server: LLMTestServer) -> genai.Client:
    return genai.Client(api_key="test", http_options={"base_url": server.gemini_base_url})


def vertex_client(server: LLMTestServer) -> genai.Client:
    # Vertex with a project needs OAuth credentials: a token that is set and not expired is used as is.
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token="test-token"),
        http_options={"base_url": server.gemini_base_url},
    )


def provider_of(client: genai.Client) -> str:
    return "gcp.vertex_ai" if client.vertexai else "gcp.gemini"


def config(headers: dict[str, str] | None = None, **options: Any) -> dict[str, Any]:
    """A ``config`` dict: generation options plus the test server's per-request headers."""
    if headers:
        options["http_options"] = {"headers": headers}
    return options


def generate(client: genai.Client, mode: str, **overrides: Any) -> str:
    """One request the ``mode`` way ("generate" or "stream"), read to the end; returns the text."""
    kwargs: dict[str, Any] = {"model": MODEL, "contents": PROMPT, **overrides}
    if mode == "generate":
        return client.models.generate_content(**kwargs).text or ""
    return "".join(chunk.text or "" for chunk in client.models.generate_content_stream(**kwargs))


async def generate_async(client: genai.Client, mode: str, **overrides: Any) -> str:
    kwargs: dict[str, Any] = {"model": MODEL, "contents": PROMPT, **overrides}
    if mode == "generate":
        return (await client.aio.models.generate_content(**kwargs)).text or ""
    return "".join(
        [chunk.text or "" async for chunk in await client.aio.models.generate_content_stream(**kwargs)]
    )

"""Which endpoint answers a request path, and in which provider's format its errors are written."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from . import _cohere, _gemini, _mistral, _ollama
from ._anthropic_messages import messages
from ._bedrock_converse import converse
from ._bedrock_invoke import invoke
from ._openai_chat import chat_completions, chat_completions_usage_on_last_chunk
from ._openai_embeddings import embeddings
from ._openai_responses import responses
from ._plan import InvalidRequest, RequestContext
from ._provider_errors import Provider
from ._sse import Reply

Endpoint = Callable[[dict[str, Any], RequestContext], Reply]

MISTRAL_PREFIX = "/mistral"
"""Mistral's base path: its chat format is OpenAI's, so the dialect is chosen by where the client points."""

GROQ_CHAT_PATH = "/openai/v1/chat/completions"
"""Where ``groq`` sends chat completions under its base URL: OpenAI's format, OpenAI's dialect."""

USAGE_ON_LAST_CHUNK_PREFIXES = ("/cerebras", "/together", "/fireworks")
"""Base paths of providers whose chat streams report ``usage`` on the finish chunk unasked (chosen by where
the client points, as Mistral's dialect is; their SDKs send ``/v1/chat/completions`` under a custom base URL)."""


@dataclass(frozen=True)
class Route:
    endpoint: Endpoint
    provider: Provider


_EXACT: Mapping[str, Route] = {
    "/v1/chat/completions": Route(chat_completions, "openai"),
    "/v1/responses": Route(responses, "openai"),
    "/v1/embeddings": Route(embeddings, "openai"),
    "/v1/messages": Route(messages, "anthropic"),
    GROQ_CHAT_PATH: Route(chat_completions, "openai"),
    **{
        f"{prefix}/v1/chat/completions": Route(chat_completions_usage_on_last_chunk, "openai")
        for prefix in USAGE_ON_LAST_CHUNK_PREFIXES
    },
    f"{MISTRAL_PREFIX}/v1/chat/completions": Route(_mistral.chat_completions, "mistral"),
    f"{MISTRAL_PREFIX}/v1/embeddings": Route(_mistral.embeddings, "mistral"),
    "/v2/chat": Route(_cohere.chat, "cohere"),
    "/v2/embed": Route(_cohere.embed, "cohere"),
    "/api/chat": Route(_ollama.chat, "ollama"),
    "/api/generate": Route(_ollama.generate, "ollama"),
    "/api/embed": Route(_ollama.embed, "ollama"),
}

# Gemini API: /v1beta/models/M:method. Vertex AI: /v1beta1/projects/P/locations/L/publishers/google/models/
# M:method, or /v1beta1/publishers/google/models/M:method with an API key (express mode).
_GEMINI_PATH = re.compile(
    r"^/v1(?:alpha|beta1?)?/"
    r"(?P<scope>(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/[^/]+/)?)"
    r"(?:models|tunedModels)/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$"
)
# botocore percent-encodes the whole model id, so ARNs and "...-v1:0" ids arrive as one path segment.
_BEDROCK_PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<operation>converse|converse-stream|invoke|invoke-with-response-stream)$"
)


def resolve(path: str, query: str) -> Route | None:
    """The route for a POST to ``path`` (still percent-encoded), or ``None`` for an unknown URL."""
    route = _EXACT.get(path)
    if route is not None:
        return route
    match = _GEMINI_PATH.match(path)
    if match is not None:
        return _gemini_route(unquote(match["model"]), match["method"], bool(match["scope"]), query)
    match = _BEDROCK_PATH.match(path)
    if match is not None:
        return _bedrock_route(unquote(match["model"]), match["operation"])
    return None


def _gemini_route(model: str, method: str, vertex: bool, query: str) -> Route | None:
    endpoint: Endpoint
    if method == "generateContent":

        def endpoint(body: dict[str, Any], ctx: RequestContext) -> Reply:
            return _gemini.generate_content(body, ctx, model=model, stream=False, vertex=vertex)

    elif method == "streamGenerateContent":
        sse = parse_qs(query).get("alt") == ["sse"]

        def endpoint(body: dict[str, Any], ctx: RequestContext) -> Reply:
            if not sse:
                # Without alt=sse the real API streams one JSON array; the SDK always asks for SSE.
                raise InvalidRequest("The LLM test server streams Gemini answers only with ?alt=sse.")
            return _gemini.generate_content(body, ctx, model=model, stream=True, vertex=vertex)

    elif method == "embedContent":

        def endpoint(body: dict[str, Any], ctx: RequestContext) -> Reply:
            return _gemini.embed_content(body, ctx, model=model, vertex=vertex)

    elif method == "batchEmbedContents":

        def endpoint(body: dict[str, Any], ctx: RequestContext) -> Reply:
            return _gemini.batch_embed_contents(body, ctx, model=model, vertex=vertex)

    elif method == "predict" and vertex:
        endpoint = _gemini.predict
    else:
        return None
    return Route(endpoint, "gemini")


def _bedrock_route(model: str, operation: str) -> Route:
    stream = operation.endswith("stream")

    def endpoint(body: dict[str, Any], ctx: RequestContext) -> Reply:
        if operation.startswith("converse"):
            return converse(body, ctx, model=model, stream=stream)
        return invoke(body, ctx, model=model, stream=stream)

    return Route(endpoint, "bedrock")


def guess_provider(path: str, headers: Mapping[str, str]) -> Provider:
    """The error format for a request no route answers (an unknown path or method)."""
    if path.startswith("/model/"):
        return "bedrock"
    if path.startswith(f"{MISTRAL_PREFIX}/"):
        return "mistral"
    if path.startswith("/v2/"):
        return "cohere"
    if path.startswith("/api/"):
        return "ollama"
    if "/models/" in path and ":" in path.rsplit("/", 1)[-1]:
        return "gemini"
    return "anthropic" if path.startswith("/v1/messages") or "anthropic-version" in headers else "openai"

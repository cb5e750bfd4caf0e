"""Which provider litellm sends a request to, in the OpenTelemetry GenAI conventions' names.

litellm decides the provider itself (``get_llm_provider``: the ``provider/`` prefix of the model, an explicit
``custom_llm_provider``, or its model tables); we ask it rather than parse the model string, so that the name
we report is the one litellm routes by. Its provider ids become the conventions' ``gen_ai.provider.name``
values (which synapsekit's pricing maps to genai-prices ids); an id the conventions do not name is reported
as litellm spells it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# litellm's provider id -> gen_ai.provider.name
SEMCONV_PROVIDERS: Mapping[str, str] = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "anthropic_text": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "sagemaker": "aws.sagemaker",
    "mistral": "mistral_ai",
    "codestral": "mistral_ai",
    "text-completion-codestral": "mistral_ai",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "ollama": "ollama",
    "ollama_chat": "ollama",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
    "watsonx_text": "ibm.watsonx.ai",
}


@dataclass(frozen=True)
class Route:
    """Where litellm sends one request: the provider (semconv name), the model id it sends, the server."""

    provider: str
    model: str
    server_address: str | None
    server_port: int | None
    # litellm names some responses' model with its route (``ollama_chat/llama3.2``): stripped to the model.
    model_prefix: str


def semconv_provider(litellm_provider: str) -> str:
    return SEMCONV_PROVIDERS.get(litellm_provider, litellm_provider)


def resolve(litellm: Any, model: str, kwargs: Mapping[str, Any]) -> Route:
    """Ask litellm where ``model`` (with the request's ``custom_llm_provider`` / ``api_base``) goes."""
    api_base = kwargs.get("api_base") or kwargs.get("base_url")
    resolved_model, provider, _, resolved_base = litellm.get_llm_provider(
        model=model,
        custom_llm_provider=kwargs.get("custom_llm_provider"),
        api_base=api_base,
    )
    address, port = _server(resolved_base or api_base)
    return Route(semconv_provider(provider), resolved_model or model, address, port, f"{provider}/")


def _server(base: Any) -> tuple[str | None, int | None]:
    # Only an explicit base (the request's, or one litellm knows for the provider) names the server:
    # litellm's per-provider default hosts live inside each handler and are not worth guessing here.
    if not isinstance(base, str) or not base:
        return None, None
    try:
        parts = urlsplit(base)
        return parts.hostname, parts.port
    except ValueError:
        return None, None

"""Which provider answers an openai client: read from its ``base_url``, so pricing finds the right price.

The openai SDK talks to many OpenAI-compatible services; the host tells them apart. Provider names are the
ids of the pricing data (genai-prices): ``openai``, ``azure``, ``groq``, ``together``, ``deepseek``,
``openrouter``, ``mistral``, ``x-ai``, ``fireworks``, ``google``, plus ``ollama`` for a local Ollama server.

A host we do not recognise is reported as ``openai`` (the protocol's owner; it is also what the local test
server is). Nothing identifies a vLLM server by address — port 8000 on localhost is any development server —
so vLLM (or any other self-hosted server) is named explicitly, by host, with
``SYNAPSEKIT_OPENAI_PROVIDERS="localhost:8000=vllm,gpu-box:8000=vllm"`` or
``OpenAIInstrumentor().instrument(providers={"localhost:8000": "vllm"})``; a bare name
(``SYNAPSEKIT_OPENAI_PROVIDERS=vllm``) names every host that is not otherwise recognised.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from .stainless._endpoint import Endpoint

PROVIDERS_ENV = "SYNAPSEKIT_OPENAI_PROVIDERS"
DEFAULT_PROVIDER = "openai"

_EXACT_HOSTS: Mapping[str, str] = {
    "api.openai.com": "openai",
    "api.groq.com": "groq",
    "api.together.xyz": "together",
    "api.together.ai": "together",
    "api.deepseek.com": "deepseek",
    "openrouter.ai": "openrouter",
    "api.mistral.ai": "mistral",
    "api.x.ai": "x-ai",
    "api.fireworks.ai": "fireworks",
    "generativelanguage.googleapis.com": "google",
}
_AZURE_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_OLLAMA_PORT = 11434
_AZURE_CLIENT_CLASSES = frozenset({"AzureOpenAI", "AsyncAzureOpenAI"})


def detect_provider(
    host: str | None,
    port: int | None,
    *,
    overrides: Mapping[str, str] | None = None,
    azure_client: bool = False,
) -> str:
    """The provider serving ``host``/``port``.

    ``overrides`` maps ``host`` or ``host:port`` (or ``"*"``, any unrecognised host) to a provider name;
    ``None`` reads them from ``SYNAPSEKIT_OPENAI_PROVIDERS``.
    """
    host = (host or "").lower()
    if overrides is None:
        overrides = parse_provider_overrides(os.environ.get(PROVIDERS_ENV, ""))
    if overrides:
        named = overrides.get(f"{host}:{port}") if port is not None else None
        if named is None:
            named = overrides.get(host)
        if named is not None:
            return named
    if azure_client or host.endswith(_AZURE_SUFFIXES):
        return "azure"
    known = _EXACT_HOSTS.get(host)
    if known is not None:
        return known
    if host in _LOOPBACK_HOSTS and port == _OLLAMA_PORT:
        return "ollama"
    if overrides:
        fallback = overrides.get("*")
        if fallback is not None:
            return fallback
    return DEFAULT_PROVIDER


def parse_provider_overrides(text: str) -> dict[str, str]:
    """``"host[:port]=name,..."`` (or one bare name, for every unrecognised host) into a mapping."""
    overrides: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, name = item.partition("=")
        if not sep:
            overrides["*"] = host.strip().lower()
            continue
        host, name = host.strip().lower(), name.strip().lower()
        if not host or not name:
            raise ValueError(f"{PROVIDERS_ENV}: expected host[:port]=provider, got {item!r}")
        overrides[host] = name
    return overrides


class EndpointResolver:
    """Resolves a client's :class:`Endpoint`, cached per base URL object (clients rarely change it)."""

    _MAX_CACHED = 256

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        merged = parse_provider_overrides(os.environ.get(PROVIDERS_ENV, ""))
        merged.update({key.lower(): value for key, value in (overrides or {}).items()})
        self._overrides = merged
        # Keyed by id() of the URL object, which the value keeps alive so the id cannot be reused.
        self._cache: dict[int, tuple[Any, type[Any], Endpoint]] = {}
        self._lock = threading.Lock()

    def for_client(self, client: Any) -> Endpoint:
        # The SDK's ``base_url`` property costs over a microsecond per read (openai 3); the attribute behind
        # it, present since openai 1, is read first.
        base_url = getattr(client, "_base_url", None)
        if base_url is None:
            base_url = getattr(client, "base_url", None)
        client_type = type(client)
        cached = self._cache.get(id(base_url))
        if cached is not None and cached[0] is base_url and cached[1] is client_type:
            return cached[2]
        endpoint = self._resolve(base_url, client_type.__name__ in _AZURE_CLIENT_CLASSES)
        with self._lock:
            if len(self._cache) >= self._MAX_CACHED:
                self._cache.clear()
            self._cache[id(base_url)] = (base_url, client_type, endpoint)
        return endpoint

    def _resolve(self, base_url: Any, azure_client: bool) -> Endpoint:
        host: str | None = getattr(base_url, "host", None)
        port: int | None = getattr(base_url, "port", None)
        if port is None:
            scheme = getattr(base_url, "scheme", None)
            port = {"https": 443, "http": 80}.get(scheme) if isinstance(scheme, str) else None
        provider = detect_provider(host, port, overrides=self._overrides, azure_client=azure_client)
        return Endpoint(provider, host or None, port)

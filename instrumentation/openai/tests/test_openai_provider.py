"""The provider behind a client, recognised from its base_url."""

from __future__ import annotations

import openai
import pytest
from synapsekit_instrumentation_openai import PROVIDERS_ENV, detect_provider
from synapsekit_instrumentation_openai._provider import EndpointResolver, parse_provider_overrides


@pytest.mark.parametrize(
    ("base_url", "provider", "address", "port"),
    [
        ("https://api.openai.com/v1", "openai", "api.openai.com", 443),
        ("https://my-resource.openai.azure.com/openai", "azure", "my-resource.openai.azure.com", 443),
        ("https://api.groq.com/openai/v1", "groq", "api.groq.com", 443),
        ("https://api.together.xyz/v1", "together", "api.together.xyz", 443),
        ("https://api.together.ai/v1", "together", "api.together.ai", 443),
        ("https://api.deepseek.com", "deepseek", "api.deepseek.com", 443),
        ("https://openrouter.ai/api/v1", "openrouter", "openrouter.ai", 443),
        ("https://api.mistral.ai/v1", "mistral", "api.mistral.ai", 443),
        ("https://api.x.ai/v1", "x-ai", "api.x.ai", 443),
        ("https://api.fireworks.ai/inference/v1", "fireworks", "api.fireworks.ai", 443),
        (
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "google",
            "generativelanguage.googleapis.com",
            443,
        ),
        ("http://localhost:11434/v1", "ollama", "localhost", 11434),
        ("http://127.0.0.1:11434/v1", "ollama", "127.0.0.1", 11434),
        ("http://localhost:8000/v1", "openai", "localhost", 8000),
        ("http://gateway.internal/v1", "openai", "gateway.internal", 80),
        ("HTTPS://API.GROQ.COM/openai/v1", "groq", "api.groq.com", 443),
    ],
)
def test_provider_from_base_url(base_url: str, provider: str, address: str, port: int) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="k")
    endpoint = EndpointResolver().for_client(client)
    assert (endpoint.provider, endpoint.server_address, endpoint.server_port) == (provider, address, port)


def test_azure_client_on_a_custom_domain_is_azure() -> None:
    client = openai.AzureOpenAI(
        azure_endpoint="https://llm.example.com", api_key="k", api_version="2024-10-21"
    )
    assert EndpointResolver().for_client(client).provider == "azure"


def test_resolver_follows_a_changed_base_url() -> None:
    client = openai.OpenAI(base_url="https://api.groq.com/openai/v1", api_key="k")
    resolver = EndpointResolver()
    assert resolver.for_client(client).provider == "groq"
    client.base_url = "https://api.mistral.ai/v1"
    assert resolver.for_client(client).provider == "mistral"


def test_overrides_by_host_port_host_and_fallback() -> None:
    overrides = {"localhost:8000": "vllm", "gpu-box": "vllm", "*": "custom"}
    assert detect_provider("localhost", 8000, overrides=overrides) == "vllm"
    assert detect_provider("gpu-box", 9000, overrides=overrides) == "vllm"
    assert detect_provider("elsewhere.example", 443, overrides=overrides) == "custom"
    assert detect_provider("api.groq.com", 443, overrides=overrides) == "groq"
    assert detect_provider("localhost", 8000, overrides={}) == "openai"


def test_overrides_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROVIDERS_ENV, "localhost:8000=vllm, Other-Host = MyProvider")
    assert detect_provider("localhost", 8000) == "vllm"
    assert detect_provider("other-host", 443) == "myprovider"
    client = openai.OpenAI(base_url="http://localhost:8000/v1", api_key="k")
    assert EndpointResolver().for_client(client).provider == "vllm"
    assert EndpointResolver({"localhost:8000": "sglang"}).for_client(client).provider == "sglang"


def test_bare_name_in_the_environment_names_unrecognised_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROVIDERS_ENV, "vllm")
    assert detect_provider("localhost", 8000) == "vllm"
    assert detect_provider("api.openai.com", 443) == "openai"


@pytest.mark.parametrize("text", ["=vllm", "host=", "a=b,=c"])
def test_malformed_overrides_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="expected host"):
        parse_provider_overrides(text)

"""What a ``messages`` request says about the call: prompt text, messages, where it goes, who answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from synapsekit_instrumentation_openai.stainless import Endpoint

from synapsekit.plugin import PromptParts

_DEFAULT_PROVIDER = "anthropic"
# Platform clients predating the SDK's own ``_gen_ai_provider_name`` are recognised by class name.
_PROVIDER_BY_CLIENT_PREFIX = (("AnthropicBedrock", "aws.bedrock"), ("AnthropicVertex", "gcp.vertex_ai"))


def provider_name(client: Any) -> str:
    name = getattr(type(client), "_gen_ai_provider_name", None)
    if isinstance(name, str) and name:
        return name
    class_name = type(client).__name__.removeprefix("Async")
    for prefix, provider in _PROVIDER_BY_CLIENT_PREFIX:
        if class_name.startswith(prefix):
            return provider
    return _DEFAULT_PROVIDER


def server_of(client: Any) -> tuple[str | None, int | None]:
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if not isinstance(host, str) or not host:
        return None, None
    port = getattr(url, "port", None)
    if not isinstance(port, int):
        port = 80 if getattr(url, "scheme", "https") == "http" else 443
    return host, port


class EndpointCache:
    """A client's :class:`Endpoint`, worked out once per client class and base URL (read on every request)."""

    _MAX_CACHED = 256

    def __init__(self) -> None:
        # Keyed by id() of the URL object, which the value keeps alive so the id cannot be reused.
        self._cache: dict[int, tuple[Any, type[Any], Endpoint]] = {}

    def for_client(self, client: Any) -> Endpoint:
        base_url = getattr(client, "_base_url", None)
        cached = self._cache.get(id(base_url))
        if cached is not None and cached[0] is base_url and cached[1] is type(client):
            return cached[2]
        host, port = server_of(client)
        found = Endpoint(provider_name(client), host, port)
        if len(self._cache) >= self._MAX_CACHED:
            self._cache.clear()
        self._cache[id(base_url)] = (base_url, type(client), found)
        return found


def _texts(content: Any) -> Iterable[str]:
    if isinstance(content, str):
        yield content
        return
    if isinstance(content, Iterable):
        for block in content:
            text = block.get("text") if isinstance(block, dict) else getattr(block, "text", None)
            if isinstance(text, str):
                yield text


def prompt_reader(body: Mapping[str, Any]) -> Callable[[], PromptParts]:
    """The request's prompt text (system + messages), read only if a budget or an estimate needs it."""
    system = body.get("system")
    messages = body.get("messages")

    def read() -> PromptParts:
        # Not joined: a budget's estimate needs only the parts' lengths (see synapsekit.plugin.PromptParts).
        parts = list(_texts(system)) if system is not None else []
        if isinstance(messages, Iterable):
            for message in messages:
                content = (
                    message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
                )
                parts.extend(_texts(content))
        return PromptParts(parts)

    return read


def _text_message(role: str, texts: Iterable[str]) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text} for text in texts]}


def input_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """System prompt and messages in the GenAI conventions' structure, for opted-in content capture."""
    system, messages = body.get("system"), body.get("messages")
    structured = [_text_message("system", _texts(system))] if system is not None else []
    if isinstance(messages, Iterable):
        for message in messages:
            get = message.get if isinstance(message, dict) else lambda name, m=message: getattr(m, name, None)
            role = get("role")
            structured.append(
                _text_message(role if isinstance(role, str) else "user", _texts(get("content")))
            )
    return structured


def output_messages(texts: Iterable[str], stop_reason: str | None) -> list[dict[str, Any]]:
    message = _text_message("assistant", ["".join(texts)])
    if stop_reason:
        message["finish_reason"] = stop_reason
    return [message]

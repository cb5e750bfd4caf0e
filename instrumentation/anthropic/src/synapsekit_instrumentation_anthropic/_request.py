"""What a ``messages`` request says about the call: model, limits, prompt text, where it goes, who answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from synapsekit.plugin import LLMCall, PromptParts, start_call
from synapsekit_instrumentation_anthropic import _sdk_spans

OPERATION = "chat"
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


def _texts(content: Any) -> Iterable[str]:
    if isinstance(content, str):
        yield content
        return
    if isinstance(content, Iterable):
        for block in content:
            text = block.get("text") if isinstance(block, dict) else getattr(block, "text", None)
            if isinstance(text, str):
                yield text


def prompt_reader(kwargs: dict[str, Any]) -> Callable[[], PromptParts]:
    """The request's prompt text (system + messages), read only if a budget or an estimate needs it."""
    system = kwargs.get("system")
    messages = kwargs.get("messages")

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


def start_messages_call(resource: Any, kwargs: dict[str, Any], *, streamed: bool) -> LLMCall:
    """Start the call for one ``messages`` request made through ``resource`` (may raise BudgetExceeded)."""
    client = getattr(resource, "_client", None)
    host, port = server_of(client)
    model = kwargs.get("model")
    max_tokens = kwargs.get("max_tokens")
    call = start_call(
        provider_name(client),
        OPERATION,
        model if isinstance(model, str) else None,
        streamed=streamed,
        server_address=host,
        server_port=port,
        max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
        prompt=prompt_reader(kwargs),
        # When the SDK emits its own span for this request, that span becomes the call's (see _sdk_spans).
        wire=not _sdk_spans.sdk_emits_span(client),
    )
    if call.capture_content:
        call.input_messages = input_messages(kwargs)
    return call


def _text_message(role: str, texts: Iterable[str]) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text} for text in texts]}


def input_messages(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """System prompt and messages in the GenAI conventions' structure, for opted-in content capture."""
    system, messages = kwargs.get("system"), kwargs.get("messages")
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

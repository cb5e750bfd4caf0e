"""What an ollama request body says about the call: operation, model, output cap, prompt text.

The client's methods (``chat``, ``generate``, ``embed``...) all build a JSON body with pydantic and hand it,
with the HTTP method and path, to ``Client._request``. The body is read there: a plain dict, with the
parameters the caller left out already dropped (``model_dump(exclude_none=True)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PROVIDER = "ollama"

# Path → GenAI operation. ``/api/generate`` completes a raw prompt: the conventions' ``text_completion``.
# Every other path (pull, list, show...) is no model call and passes through untouched.
OPERATIONS = {
    "/api/chat": "chat",
    "/api/generate": "text_completion",
    "/api/embed": "embeddings",
    "/api/embeddings": "embeddings",  # the deprecated ``embeddings()``, which reports no usage
}


@dataclass(frozen=True)
class Request:
    operation: str
    model: str | None
    max_output_tokens: int | None
    prompt: Callable[[], str]
    body: Mapping[str, Any]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return [item for item in value if isinstance(item, str)]
    return []


def messages_text(messages: Any) -> str:
    if not isinstance(messages, Iterable) or isinstance(messages, (str, bytes, Mapping)):
        return ""
    return "\n".join(
        content
        for message in messages
        if isinstance(message, Mapping) and isinstance(content := message.get("content"), str)
    )


def _num_predict(body: Mapping[str, Any]) -> int | None:
    """``options.num_predict`` caps the output; a negative one (-1 endless, -2 fill the context) does not."""
    options = body.get("options")
    value = options.get("num_predict") if isinstance(options, Mapping) else None
    return value if type(value) is int and value >= 0 else None


def describe(operation: str, body: Mapping[str, Any]) -> Request:
    model = body.get("model")
    prompt: Callable[[], str]
    if operation == "chat":
        messages = body.get("messages")
        prompt = lambda: messages_text(messages)  # noqa: E731
    elif operation == "text_completion":
        texts = _strings(body.get("system")) + _strings(body.get("prompt"))
        prompt = lambda: "\n".join(texts)  # noqa: E731
    else:
        inputs = body.get("input", body.get("prompt"))
        prompt = lambda: "\n".join(_strings(inputs))  # noqa: E731
    return Request(
        operation,
        model if isinstance(model, str) and model else None,
        # Embeddings produce no output tokens: reserve none.
        0 if operation == "embeddings" else _num_predict(body),
        prompt,
        body,
    )


def request_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Request | None:
    """The model request ``_request(cls, method, path, json=body, stream=...)`` sends, or None for another."""
    path = args[2] if len(args) > 2 else kwargs.get("url")
    operation = OPERATIONS.get(path) if isinstance(path, str) else None
    body = kwargs.get("json")
    if operation is None or not isinstance(body, Mapping):
        return None
    return describe(operation, body)


def server_of(client: Any) -> tuple[str | None, int | None]:
    url = getattr(getattr(client, "_client", None), "base_url", None)
    host = getattr(url, "host", None)
    if not isinstance(host, str) or not host:
        return None, None
    port = getattr(url, "port", None)
    return host, port if isinstance(port, int) else (80 if getattr(url, "scheme", "") == "http" else 443)


def input_messages(request: Request) -> list[dict[str, Any]]:
    """The request's messages in the GenAI conventions' structure, for opted-in content capture."""
    body = request.body
    if request.operation == "chat":
        messages = body.get("messages")
        pairs = [
            (str(message.get("role") or "user"), message.get("content"))
            for message in (messages if isinstance(messages, list) else ())
            if isinstance(message, Mapping)
        ]
    else:
        pairs = [("system", text) for text in _strings(body.get("system"))]
        pairs += [("user", text) for text in _strings(body.get("prompt"))]
    return [
        {"role": role, "parts": [{"type": "text", "content": content}]}
        for role, content in pairs
        if isinstance(content, str)
    ]

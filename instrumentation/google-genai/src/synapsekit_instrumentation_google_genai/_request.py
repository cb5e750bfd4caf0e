"""What a ``Models`` request says about the call: provider, server, model, output cap and prompt text.

The wrapped methods are the SDK's per-request ones, called with keyword arguments only (``model``,
``contents`` or, for Vertex embeddings, ``content`` / ``batch_contents``, and ``config``). ``config`` is a
``GenerateContentConfig`` / ``EmbedContentConfig`` or a plain dict, whose keys may be snake_case or the
camelCase aliases the SDK's models also accept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from synapsekit.plugin import LLMCall, start_call

GENERATE_CONTENT = "generate_content"
EMBEDDINGS = "embeddings"
GEMINI_API = "gcp.gemini"
VERTEX_AI = "gcp.vertex_ai"
# Walking user-supplied contents: deep enough for Content → parts → Part, bounded against odd objects.
_MAX_DEPTH = 6


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def option(holder: Any, name: str) -> Any:
    """``holder.name`` for an SDK model, ``holder[name]`` (or its camelCase alias) for a dict."""
    if holder is None:
        return None
    if isinstance(holder, dict):  # not the Mapping ABC: this runs several times per streamed chunk
        value = holder.get(name)
        return holder.get(_camel(name)) if value is None else value
    return getattr(holder, name, None)


def provider_name(api_client: Any) -> str:
    # One client class serves both APIs; the mode is fixed when the client is built.
    return VERTEX_AI if getattr(api_client, "vertexai", False) is True else GEMINI_API


def server_of(api_client: Any, config: Any) -> tuple[str | None, int | None]:
    """Host and port the request goes to: the request's own ``http_options.base_url``, else the client's."""
    base_url = option(option(config, "http_options"), "base_url")
    if not isinstance(base_url, str):
        # A dict in google-genai 1.0, an ``HttpOptions`` model later.
        base_url = option(getattr(api_client, "_http_options", None), "base_url")
    if not isinstance(base_url, str) or not base_url:
        return None, None
    parts = urlsplit(base_url)
    if not parts.hostname:
        return None, None
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 80 if parts.scheme == "http" else 443
    return parts.hostname, port


def texts(value: Any, depth: int = 0) -> Iterator[str]:
    """The text pieces of ``contents`` / ``system_instruction``: strings, parts' ``text``, contents' parts.

    Media (images, files, blobs) carry no text: a budget's estimate of such a prompt counts its text only.
    """
    if isinstance(value, str):
        yield value
        return
    if value is None or depth > _MAX_DEPTH or isinstance(value, (bytes, bytearray)):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from texts(item, depth + 1)
        return
    text = option(value, "text")
    if isinstance(text, str):
        yield text
    parts = option(value, "parts")
    if parts is not None:
        yield from texts(parts, depth + 1)


def prompt_reader(kwargs: Mapping[str, Any]) -> Callable[[], str]:
    """The request's prompt text, read only if a budget or an estimate needs it."""
    system = option(kwargs.get("config"), "system_instruction")
    contents = [kwargs.get(name) for name in ("contents", "content", "batch_contents")]

    def read() -> str:
        return "\n".join([*texts(system), *texts(contents)])

    return read


def max_output_tokens(config: Any) -> int | None:
    value = option(config, "max_output_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def start_models_call(module: Any, kwargs: Mapping[str, Any], operation: str, *, streamed: bool) -> LLMCall:
    """Start the call for one request of ``module`` (``Models`` / ``AsyncModels``); may raise BudgetExceeded."""
    api_client = getattr(module, "_api_client", None)
    config = kwargs.get("config")
    host, port = server_of(api_client, config)
    model = kwargs.get("model")
    return start_call(
        provider_name(api_client),
        operation,
        model if isinstance(model, str) else None,
        streamed=streamed,
        server_address=host,
        server_port=port,
        # An embedding produces no output tokens: a budget reserves none for it.
        max_output_tokens=max_output_tokens(config) if operation == GENERATE_CONTENT else 0,
        prompt=prompt_reader(kwargs),
    )

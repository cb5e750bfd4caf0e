"""Routes through litellm to the local test server, and the ways to send one request (sync, async, streams)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import litellm

from synapsekit.testing import LLMTestServer

MESSAGES = [{"role": "user", "content": "hi there you"}]  # three input tokens on the test server
OUTPUT_TOKENS = 4  # the server fixture's default


@dataclass(frozen=True)
class Route:
    """A litellm model string, the base URL of its dialect on the test server, how we name and price it."""

    model: str
    base: str
    provider: str
    request_model: str
    cost_3_in_4_out: Decimal
    path: str = ""  # appended to the base URL (litellm's gemini route wants the API version in it)

    def api_base(self, server: LLMTestServer) -> str:
        return str(getattr(server, self.base)) + self.path


# Costs from genai-prices: claude-haiku-4-5 $1/M in, $5/M out; gpt-4o-mini $0.15/M in, $0.60/M out;
# gemini-2.0-flash $0.10/M in, $0.40/M out; Ollama is free.
ANTHROPIC = Route(
    "anthropic/claude-haiku-4-5", "anthropic_base_url", "anthropic", "claude-haiku-4-5", Decimal("0.000023")
)
OPENAI = Route("openai/gpt-4o-mini", "openai_base_url", "openai", "gpt-4o-mini", Decimal("0.00000285"))
GEMINI = Route(
    "gemini/gemini-2.0-flash",
    "gemini_base_url",
    "gcp.gemini",
    "gemini-2.0-flash",
    Decimal("0.0000019"),
    "/v1beta",
)
OLLAMA = Route("ollama_chat/llama3.2", "ollama_base_url", "ollama", "llama3.2", Decimal("0"))
ROUTES = [ANTHROPIC, OPENAI, GEMINI, OLLAMA]
MODES = ["sync", "stream", "async", "astream"]
WORDS = ["Hello", " from", " the", " synapsekit"]


def request(route: Route, server: LLMTestServer, **overrides: Any) -> dict[str, Any]:
    return {
        "model": route.model,
        "api_base": route.api_base(server),
        "api_key": "test-key",
        "messages": MESSAGES,
        "max_tokens": 50,
        **overrides,
    }


def chunk_view(chunk: Any) -> tuple[Any, ...]:
    """What a caller reads from a chunk: its text, finish reason, and whether it carries usage."""
    if not chunk.choices:
        return (None, None, getattr(chunk, "usage", None) is not None)
    choice = chunk.choices[0]
    return (choice.delta.content, choice.finish_reason, getattr(chunk, "usage", None) is not None)


def send(route: Route, server: LLMTestServer, mode: str, **overrides: Any) -> list[Any]:
    """Send one request; the caller's view of the answer (the text, or each chunk's view)."""
    kwargs = request(route, server, **overrides)
    if mode == "sync":
        response = litellm.completion(**kwargs)
        assert isinstance(response, litellm.ModelResponse)
        return [response.choices[0].message.content]
    stream = litellm.completion(stream=True, **kwargs)
    assert isinstance(stream, litellm.CustomStreamWrapper)
    return [chunk_view(chunk) for chunk in stream]


async def send_async(route: Route, server: LLMTestServer, mode: str, **overrides: Any) -> list[Any]:
    kwargs = request(route, server, **overrides)
    if mode == "async":
        response = await litellm.acompletion(**kwargs)
        assert isinstance(response, litellm.ModelResponse)
        return [response.choices[0].message.content]
    stream = await litellm.acompletion(stream=True, **kwargs)
    assert isinstance(stream, litellm.CustomStreamWrapper)
    return [chunk_view(chunk) async for chunk in stream]


async def send_any(route: Route, server: LLMTestServer, mode: str, **overrides: Any) -> list[Any]:
    if mode in ("sync", "stream"):
        return send(route, server, mode, **overrides)
    return await send_async(route, server, mode, **overrides)

"""An LLM component that talks to the LLMTestServer over HTTP, and helpers shared by the budget tests.

Prices and prompts are chosen so that a call's reservation equals its real cost exactly: the model
``budget-test-model`` costs $1 per million input tokens and $2 per million output tokens (1 000 and 2 000
nano-dollars a token); tiktoken does not know it, so input tokens are estimated at one per four characters,
and a prompt of ``n`` three-letter words (``4n - 1`` characters) is estimated at ``n`` tokens — the number the
test server counts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from synapsekit import BaseLLM, Generation, LLMConfig, Usage
from synapsekit.testing import LLMTestServer

MODEL = "budget-test-model"
INPUT_NANO_PER_TOKEN = 1_000
OUTPUT_NANO_PER_TOKEN = 2_000


def prompt_of(words: int) -> str:
    return " ".join(["abc"] * words)


def nano(input_tokens: int, output_tokens: int) -> int:
    return input_tokens * INPUT_NANO_PER_TOKEN + output_tokens * OUTPUT_NANO_PER_TOKEN


def usd(nano_amount: int) -> float:
    return nano_amount / 1_000_000_000


async def until_requests(server: LLMTestServer, count: int) -> None:
    """Wait (at most 10 s) until the server has received ``count`` requests."""
    deadline = time.monotonic() + 10.0
    for _ in iter(int, 1):
        if server.request_count >= count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the server received {server.request_count} requests, expected {count}")
        await asyncio.sleep(0.005)


async def drain(stream: AsyncIterator[str], into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk)


class ServerLLM(BaseLLM):
    """Chat completions against the test server (provider "openai", so it is priced like the SDK would be).

    Few connections: the stdlib test server's listen backlog is small and resets a burst of new ones.
    """

    provider = "openai"

    def __init__(self, base_url: str, *, model: str = MODEL, max_connections: int = 4) -> None:
        super().__init__(LLMConfig(model=model, base_url=base_url))
        self._client = httpx2.AsyncClient(
            base_url=base_url,
            timeout=30.0,
            limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _body(self, prompt: str, kwargs: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
        if kwargs.get("max_tokens") is not None:
            body["max_tokens"] = kwargs["max_tokens"]
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        response = await self._client.post(
            "/chat/completions", json=self._body(prompt, kwargs, stream=False), headers=kwargs.get("headers")
        )
        response.raise_for_status()
        data = response.json()
        usage = data["usage"]
        return Generation(
            text=data["choices"][0]["message"]["content"],
            usage=Usage(input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"]),
            model=data["model"],
            finish_reason=data["choices"][0]["finish_reason"],
            response_id=data["id"],
        )

    async def _stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str | Usage]:
        body = self._body(prompt, kwargs, stream=True)
        async with self._client.stream(
            "POST", "/chat/completions", json=body, headers=kwargs.get("headers")
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[len("data: ") :])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                    yield Usage(input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"])
                for choice in chunk.get("choices", ()):
                    text = choice.get("delta", {}).get("content")
                    if text:
                        yield text

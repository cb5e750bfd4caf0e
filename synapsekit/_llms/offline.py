"""An offline, deterministic model for demos and tests: no network, realistic usage, same answer every time.

Usage rule (documented, so tests can compute expectations): one token per whitespace-separated word; the
input is the prompt (plus the system prompt), the output is ``max_tokens`` words when given, else 12.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from synapsekit._llms.base import BaseLLM, Generation, LLMConfig, Usage

OFFLINE_MODEL = "synapsekit-offline"
DEFAULT_OUTPUT_TOKENS = 12
_VOCABULARY = [
    "synapsekit",
    "counts",
    "every",
    "token",
    "prices",
    "every",
    "call",
    "and",
    "stops",
    "spending",
    "before",
    "the",
    "budget",
    "runs",
    "out",
]


class OfflineLLM(BaseLLM):
    """``OfflineLLM()`` answers with deterministic text and reports usage through the core like any SDK."""

    provider = "synapsekit"

    def __init__(self, config: LLMConfig | None = None, *, latency_s: float = 0.0) -> None:
        super().__init__(config or LLMConfig(model=OFFLINE_MODEL))
        self.latency_s = latency_s

    def _words(self, prompt: str, kwargs: dict[str, Any]) -> tuple[list[str], int]:
        system = self.config.system_prompt or ""
        input_tokens = max(1, len(prompt.split()) + len(system.split()))
        count = kwargs.get("max_tokens") or self.config.max_tokens or DEFAULT_OUTPUT_TOKENS
        seed = sum(prompt.encode()) % len(_VOCABULARY)
        words = [_VOCABULARY[(seed + i) % len(_VOCABULARY)] for i in range(count)]
        return words, input_tokens

    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        words, input_tokens = self._words(prompt, kwargs)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return Generation(
            text=" ".join(words),
            usage=Usage(input_tokens=input_tokens, output_tokens=len(words)),
            model=self.model,
            finish_reason="stop",
        )

    async def _stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str | Usage]:
        words, input_tokens = self._words(prompt, kwargs)
        for index, word in enumerate(words):
            if self.latency_s:
                await asyncio.sleep(self.latency_s / len(words))
            yield word if index == 0 else " " + word
        yield Usage(input_tokens=input_tokens, output_tokens=len(words))

"""Shared by the cohere instrumentation tests: the canonical requests and their exact prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cohere

from synapsekit.testing import completion_text

MODEL = "command-r"
EMBED_MODEL = "embed-v4.0"
USER: list[Any] = [
    {"role": "user", "content": "How are you today"}
]  # 4 billed input tokens on the test server
FULL_TEXT = completion_text(12)
EMBED_INPUTS = ["one two three", "four five"]  # 5 billed input tokens

# genai-prices, cohere/command-r: $0.15/M input (cache reads too), $0.60/M output. Billed: 4 in, 12 out.
COST_4_IN_12_OUT = Decimal("0.0000078")
# What counting usage.tokens (4 + 64 template tokens in, 12 + 1 out) would have cost instead.
COST_OF_THE_TOKENS_FIELD = Decimal("0.0000180")
# cohere/embed-v4.0: $0.12/M input.
COST_EMBED_5 = Decimal("0.0000006")


def options(**headers: str) -> dict[str, Any]:
    # max_retries=0 per request (the clients of cohere < 5.17 take no max_retries): the SDK retries 429 and
    # 5xx twice by default, and fault tests want one request.
    return {"additional_headers": headers, "max_retries": 0}


def chat(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of one chat request: 4 billed input tokens (2 cached), 12 output, capped at 100."""
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": USER,
        "max_tokens": 100,
        "request_options": options(**{"x-test-cached-tokens": "2"}),
    }
    kwargs.update(overrides)
    return kwargs


def stream_text(client: cohere.ClientV2, **overrides: Any) -> str:
    return "".join(
        event.delta.message.content.text
        for event in client.chat_stream(**chat(**overrides))
        if event.type == "content-delta"
    )


async def async_stream_text(client: cohere.AsyncClientV2, **overrides: Any) -> str:
    return "".join(
        [
            event.delta.message.content.text
            async for event in client.chat_stream(**chat(**overrides))
            if event.type == "content-delta"
        ]
    )

"""Shared by the mistralai instrumentation tests: the canonical requests and their exact prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mistralai.client.utils import eventstreaming

from synapsekit.testing import completion_text

# The HTTP client the SDK streams with: httpx2 from mistralai 3 on, httpx before.
RemoteProtocolError: type[Exception] = eventstreaming.httpx.RemoteProtocolError

MODEL = "mistral-small-latest"
EMBED_MODEL = "mistral-embed"
USER: list[Any] = [{"role": "user", "content": "How are you today"}]  # 4 input tokens on the test server
CACHED_2 = {"x-test-cached-tokens": "2"}
FULL_TEXT = completion_text(12)
WORDS = FULL_TEXT.split()

# genai-prices, mistral/mistral-small-latest: $0.15/M input, $0.015/M cache read, $0.60/M output.
# 4 input of which 2 cached, 12 output: 2 x 0.15 + 2 x 0.015 + 12 x 0.60 = $7.53 per million calls.
COST_4_IN_2_CACHED_12_OUT = Decimal("0.00000753")
# mistral/mistral-embed: $0.10/M input; "one two three" + "four five" is 5 tokens.
EMBED_INPUTS = ["one two three", "four five"]
COST_EMBED_5 = Decimal("0.0000005")


def chat(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of one chat request: 4 input tokens (2 of them cached), 12 output, capped at 100."""
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": USER,
        "max_tokens": 100,
        "http_headers": dict(CACHED_2),
    }
    kwargs.update(overrides)
    return kwargs

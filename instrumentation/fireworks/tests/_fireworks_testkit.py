"""What the fireworks instrumentation tests need to know of the SDK, and the numbers they expect."""

from __future__ import annotations

from decimal import Decimal

import fireworks

from synapsekit.testing import LLMTestServer

NAME = PACKAGE = "fireworks"
DISTRIBUTION = "fireworks-ai"
PROVIDER = "fireworks_ai"
SUPPORTED = ">=1.2,<2"
Client = fireworks.Fireworks
AsyncClient = fireworks.AsyncFireworks
APIError = fireworks.APIError
NotFoundError = fireworks.NotFoundError
RateLimitError = fireworks.RateLimitError

# Fireworks names models by account path; genai-prices knows the last segment (model-name normalisation).
MODEL = "accounts/fireworks/models/deepseek-v3p2"
PRICE_PER_MTOK = (Decimal("0.56"), Decimal("1.68"))  # genai-prices: input, output (USD per million tokens)
CHAT_PATH = "/fireworks/v1/chat/completions"  # as the test server receives it
ASKS_STREAM_USAGE = False  # usage comes on a stream's last chunk unasked


def base_url(server: LLMTestServer) -> str:
    return server.fireworks_base_url

"""What the together instrumentation tests need to know of the SDK, and the numbers they expect."""

from __future__ import annotations

from decimal import Decimal

import together

from synapsekit.testing import LLMTestServer

NAME = DISTRIBUTION = PACKAGE = "together"
PROVIDER = "together_ai"
SUPPORTED = ">=2,<4"
Client = together.Together
AsyncClient = together.AsyncTogether
APIError = together.APIError
NotFoundError = together.NotFoundError
RateLimitError = together.RateLimitError

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
PRICE_PER_MTOK = (Decimal("0.88"), Decimal("0.88"))  # genai-prices: input, output (USD per million tokens)
CHAT_PATH = "/together/v1/chat/completions"  # as the test server receives it, in both layouts
ASKS_STREAM_USAGE = False  # usage comes on a stream's last chunk unasked

# together 2 keeps /v1 in its base URL and sends /chat/completions; together 3 sends /v1/chat/completions.
V1_IN_BASE_URL = str(together.Together(api_key="test").base_url).rstrip("/").endswith("/v1")


def base_url(server: LLMTestServer) -> str:
    return server.together_base_url + ("/v1" if V1_IN_BASE_URL else "")

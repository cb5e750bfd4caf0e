"""What the cerebras instrumentation tests need to know of the SDK, and the numbers they expect."""

from __future__ import annotations

from decimal import Decimal

from cerebras.cloud import sdk as cerebras

from synapsekit.testing import LLMTestServer

NAME = PROVIDER = "cerebras"
DISTRIBUTION = "cerebras-cloud-sdk"
PACKAGE = "cerebras.cloud.sdk"
SUPPORTED = ">=1.13.1,<2"
Client = cerebras.Cerebras
AsyncClient = cerebras.AsyncCerebras
APIError = cerebras.APIError
NotFoundError = cerebras.NotFoundError
RateLimitError = cerebras.RateLimitError

MODEL = "llama-3.3-70b"
PRICE_PER_MTOK = (Decimal("0.85"), Decimal("1.2"))  # genai-prices: input, output (USD per million tokens)
CHAT_PATH = "/cerebras/v1/chat/completions"  # as the test server receives it
ASKS_STREAM_USAGE = False  # usage comes on a stream's last chunk unasked


def base_url(server: LLMTestServer) -> str:
    return server.cerebras_base_url

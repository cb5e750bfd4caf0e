"""What the groq instrumentation tests need to know of the SDK, and the numbers they expect."""

from __future__ import annotations

from decimal import Decimal

import groq

from synapsekit.testing import LLMTestServer

NAME = DISTRIBUTION = PACKAGE = PROVIDER = "groq"
SUPPORTED = ">=0.13,<2"
Client = groq.Groq
AsyncClient = groq.AsyncGroq
APIError = groq.APIError
NotFoundError = groq.NotFoundError
RateLimitError = groq.RateLimitError

MODEL = "llama-3.3-70b-versatile"
PRICE_PER_MTOK = (Decimal("0.59"), Decimal("0.79"))  # genai-prices: input, output (USD per million tokens)
CHAT_PATH = "/openai/v1/chat/completions"  # as the test server receives it
ASKS_STREAM_USAGE = True  # Groq takes stream_options.include_usage


def base_url(server: LLMTestServer) -> str:
    return server.groq_base_url

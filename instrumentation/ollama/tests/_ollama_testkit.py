"""Shared by the ollama instrumentation tests: the canonical requests."""

from __future__ import annotations

from typing import Any

import ollama

from synapsekit.testing import completion_text

MODEL = "llama3.2"
EMBED_MODEL = "nomic-embed-text"
USER: list[Any] = [{"role": "user", "content": "How are you today"}]  # 4 input tokens on the test server
FULL_TEXT = completion_text(12)
EMBED_INPUTS = ["one two three", "four five"]  # 5 input tokens


def send(client: ollama.Client, mode: str, **options: Any) -> str:
    """One request the ``mode`` way, read to the end; returns the text received. 4 input tokens."""
    if mode == "chat":
        return client.chat(model=MODEL, messages=USER, options=options).message.content or ""
    if mode == "chat_stream":
        parts = client.chat(model=MODEL, messages=USER, options=options, stream=True)
        return "".join(part.message.content or "" for part in parts)
    if mode == "generate":
        return client.generate(model=MODEL, prompt="How are you", system="today", options=options).response
    parts = client.generate(model=MODEL, prompt="How are you", system="today", options=options, stream=True)
    return "".join(part.response for part in parts)


async def send_async(client: ollama.AsyncClient, mode: str, **options: Any) -> str:
    if mode == "chat":
        return (await client.chat(model=MODEL, messages=USER, options=options)).message.content or ""
    if mode == "chat_stream":
        parts = await client.chat(model=MODEL, messages=USER, options=options, stream=True)
        return "".join([part.message.content or "" async for part in parts])
    if mode == "generate":
        return (
            await client.generate(model=MODEL, prompt="How are you", system="today", options=options)
        ).response
    parts = await client.generate(
        model=MODEL, prompt="How are you", system="today", options=options, stream=True
    )
    return "".join([part.response async for part in parts])


MODES = ["chat", "chat_stream", "generate", "generate_stream"]
OPERATION = {
    "chat": "chat",
    "chat_stream": "chat",
    "generate": "text_completion",
    "generate_stream": "text_completion",
}

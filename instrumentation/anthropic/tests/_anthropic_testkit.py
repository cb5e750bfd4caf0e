"""Shared by the anthropic instrumentation tests: the canonical request, a recording sink."""

from __future__ import annotations

from typing import Any

import anthropic

from synapsekit.testing import CallRecorder

# Non-deprecated model names: the SDK warns on deprecated ones, and the tests make that warning an error.
MODEL = "claude-haiku-4-5"
OTHER_MODEL = "claude-sonnet-4-6"
PROMPT = "one two three four five six seven"  # 7 input tokens on the test server
CACHE_HEADERS = {"x-test-cached-tokens": "3", "x-test-cache-creation-tokens": "2"}


def request(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of one ``messages.create``/``stream`` call: 7 input tokens, 3 cached, 2 written."""
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": PROMPT}],
        "extra_headers": dict(CACHE_HEADERS),
    }
    kwargs.update(overrides)
    return kwargs


RecordingSink = CallRecorder


def consume(client: anthropic.Anthropic, mode: str, **overrides: Any) -> list[str]:
    """Send one request the ``mode`` way and read it to the end; returns the text deltas received."""
    texts: list[str] = []
    if mode == "create":
        client.messages.create(**request(**overrides))
    elif mode == "create_stream":
        for event in client.messages.create(stream=True, **request(**overrides)):
            if event.type == "content_block_delta":
                texts.append(event.delta.text)
    else:
        with client.messages.stream(**request(**overrides)) as stream:
            texts.extend(stream.text_stream)
    return texts

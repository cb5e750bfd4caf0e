"""Content capture: prompts and completions on the request's span only when the user opted in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _gemini_testkit import TEXT, generate, generate_async
from google import genai
from google.genai import types

from synapsekit._core import config as _config

MODES = ["generate", "stream"]
CONTENTS: list[Any] = [
    types.Content(role="user", parts=[types.Part(text="one two")]),
    {"role": "model", "parts": [{"text": "three"}]},
    "four",
    types.Part(text="five"),
]
EXPECTED_INPUT = [
    {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
    {"role": "user", "parts": [{"type": "text", "content": "one two"}]},
    {"role": "assistant", "parts": [{"type": "text", "content": "three"}]},
    {"role": "user", "parts": [{"type": "text", "content": "four"}, {"type": "text", "content": "five"}]},
]
EXPECTED_OUTPUT = [
    {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}
]


@pytest.fixture
def capture() -> Iterator[None]:
    _config.set_capture_content(True)
    yield
    _config.set_capture_content(None)


def messages(span_exporter: Any) -> tuple[Any, Any]:
    [span] = span_exporter.get_finished_spans()
    attributes = dict(span.attributes)
    return (
        json.loads(str(attributes["gen_ai.input.messages"])),
        json.loads(str(attributes["gen_ai.output.messages"])),
    )


@pytest.mark.usefixtures("instrumented")
def test_no_content_by_default(client: genai.Client, span_exporter: Any) -> None:
    generate(client, "generate")
    [span] = span_exporter.get_finished_spans()
    assert "gen_ai.input.messages" not in span.attributes
    assert "gen_ai.output.messages" not in span.attributes


@pytest.mark.usefixtures("instrumented", "capture")
@pytest.mark.parametrize("mode", MODES)
def test_opted_in_content(client: genai.Client, span_exporter: Any, mode: str) -> None:
    generate(client, mode, contents=CONTENTS, config={"system_instruction": "Be brief"})
    assert messages(span_exporter) == (EXPECTED_INPUT, EXPECTED_OUTPUT)


@pytest.mark.usefixtures("instrumented", "capture")
@pytest.mark.parametrize("mode", MODES)
async def test_opted_in_content_async(client: genai.Client, span_exporter: Any, mode: str) -> None:
    await generate_async(client, mode)
    user = [{"role": "user", "parts": [{"type": "text", "content": "How are you today"}]}]
    assert messages(span_exporter) == (user, EXPECTED_OUTPUT)

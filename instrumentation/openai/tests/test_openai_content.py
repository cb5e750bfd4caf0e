"""Content capture: prompts and completions on spans only when the user opted in, after redaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from synapsekit._core import config as _config

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour"}]


@pytest.fixture
def capture() -> Iterator[None]:
    _config.set_capture_content(True)
    yield
    _config.set_capture_content(None)
    _config.set_redactor(None)


def _chat_span(span_exporter: Any) -> Any:
    (span,) = [s for s in span_exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    return span


@pytest.mark.usefixtures("instrumented")
def test_no_content_by_default(client: openai.OpenAI, span_exporter: Any) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    attributes = _chat_span(span_exporter).attributes
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes


@pytest.mark.usefixtures("instrumented", "capture")
@pytest.mark.parametrize("stream", [False, True])
def test_opted_in_content_for_chat(client: openai.OpenAI, span_exporter: Any, stream: bool) -> None:
    response = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=3, stream=stream
    )
    if stream:
        list(response)  # type: ignore[arg-type]
    attributes = _chat_span(span_exporter).attributes
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Name a colour"}]},
    ]
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the"}],
            "finish_reason": "length",
        }
    ]


@pytest.mark.usefixtures("instrumented", "capture")
def test_redaction_hook_sees_structured_messages(client: openai.OpenAI, span_exporter: Any) -> None:
    seen: list[Any] = []

    def redact(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen.append(messages)
        return [{"role": m["role"], "parts": [{"type": "text", "content": "[redacted]"}]} for m in messages]

    _config.set_redactor(redact)
    client.responses.create(model="gpt-4o-mini", input="my secret", instructions="Be brief.")
    attributes = _chat_span(span_exporter).attributes
    assert seen[0][1] == {"role": "user", "parts": [{"type": "text", "content": "my secret"}]}
    assert "my secret" not in attributes["gen_ai.input.messages"]
    assert "sk-" not in json.dumps(dict(attributes))  # the API key is never recorded

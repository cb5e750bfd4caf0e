"""Content capture: prompts and completions on the span only when the user opted in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _bedrock_testkit import (
    CLAUDE,
    FULL_TEXT,
    LLAMA,
    MESSAGES,
    NOVA,
    PROMPT,
    anthropic_body,
    llama_body,
    nova_body,
)
from test_bedrock_spans import only_span

from synapsekit._core import config as _config

pytestmark = pytest.mark.usefixtures("instrumented")

SYSTEM = "Be brief"


@pytest.fixture
def capture() -> Iterator[None]:
    _config.set_capture_content(True)
    yield
    _config.set_capture_content(None)


def send(client: Any, mode: str) -> None:
    if mode == "converse":
        client.converse(modelId=CLAUDE, system=[{"text": SYSTEM}], messages=MESSAGES)
    elif mode == "converse_stream":
        list(client.converse_stream(modelId=CLAUDE, system=[{"text": SYSTEM}], messages=MESSAGES)["stream"])
    elif mode.startswith("invoke_stream"):
        model, body = {
            "invoke_stream_anthropic": (CLAUDE, anthropic_body(system=SYSTEM)),
            "invoke_stream_nova": (NOVA, nova_body(system=[{"text": SYSTEM}])),
        }[mode]
        list(client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))["body"])
    else:
        client.invoke_model(modelId=NOVA, body=json.dumps(nova_body(system=[{"text": SYSTEM}])))


def test_no_content_by_default(client: Any, span_exporter: Any) -> None:
    send(client, "converse")
    attributes = dict(only_span(span_exporter).attributes or {})
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes


@pytest.mark.usefixtures("capture")
@pytest.mark.parametrize(
    "mode", ["converse", "converse_stream", "invoke_nova", "invoke_stream_anthropic", "invoke_stream_nova"]
)
def test_opted_in_content(mode: str, client: Any, span_exporter: Any) -> None:
    send(client, mode)
    attributes = dict(only_span(span_exporter).attributes or {})
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]},
    ]
    [output] = json.loads(str(attributes["gen_ai.output.messages"]))
    assert output["role"] == "assistant"
    assert output["parts"] == [{"type": "text", "content": FULL_TEXT}]
    assert output["finish_reason"] == "end_turn"


@pytest.mark.usefixtures("capture")
def test_llama_prompt_is_the_user_message(client: Any, span_exporter: Any) -> None:
    client.invoke_model(modelId=LLAMA, body=json.dumps(llama_body()))
    attributes = dict(only_span(span_exporter).attributes or {})
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]

"""Content capture: prompts and completions on the request's one span only when the user opted in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from _anthropic_testkit import request
from test_anthropic_spans import MODES, only_span, send

from synapsekit._core import config as _config
from synapsekit.testing._span_capture import install_global_span_capture


@pytest.fixture
def spans() -> Iterator[Any]:
    exporter = install_global_span_capture()
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
def capture() -> Iterator[None]:
    _config.set_capture_content(True)
    yield
    _config.set_capture_content(None)


@pytest.mark.usefixtures("instrumented")
def test_no_content_by_default(client: anthropic.Anthropic, spans: Any) -> None:
    send(client, "create")
    attributes = dict(only_span(spans).attributes or {})
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes


@pytest.mark.usefixtures("instrumented", "capture")
@pytest.mark.parametrize("mode", MODES)
def test_opted_in_content_on_every_path(mode: str, client: anthropic.Anthropic, spans: Any) -> None:
    sent = request()
    send(client, mode)
    attributes = dict(only_span(spans).attributes or {})
    expected_input = [
        {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in sent["messages"]
    ]
    inputs = json.loads(str(attributes["gen_ai.input.messages"]))
    assert inputs[-len(expected_input) :] == expected_input
    (output,) = json.loads(str(attributes["gen_ai.output.messages"]))
    assert output["role"] == "assistant"
    assert output["finish_reason"] == "end_turn"
    assert (
        output["parts"][0]["content"]
        == "Hello from the synapsekit test server: every word here is one token."
    )

"""Side by side with OpenTelemetry's official ``opentelemetry-instrumentation-openai-v2`` on the same calls.

Both instrument one openai client; each request gets their span and ours. Every ``gen_ai.*`` / ``openai.*``
attribute theirs records about the request and the response must be on ours with the same value, and every
GenAI client metric theirs records must be one ours records too. What ours records beyond theirs (cost,
``server.*``, the stream flag, usage of a stream whose usage chunk synapsekit asked for) is not compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as TheirInstrumentor

import synapsekit

pytestmark = pytest.mark.usefixtures("uninstrument_after")

MODEL = "gpt-4o-mini"
MESSAGES: Any = [{"role": "user", "content": "one two three"}]
EVERY_PARAMETER: dict[str, Any] = {
    "temperature": 0.5,
    "top_p": 1,
    "seed": 42,
    "stop": ["END", "STOP"],
    "frequency_penalty": 0.25,
    "presence_penalty": -0.5,
    "n": 2,
    "response_format": {"type": "json_object"},
    "service_tier": "flex",
    "max_tokens": 20,
}
# Prompt and completion content: off here (neither captures it by default), and shaped by each one's hook.
_CONTENT = frozenset({"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"})


@pytest.fixture
def both(request: pytest.FixtureRequest) -> Iterator[None]:
    theirs = TheirInstrumentor()
    if request.param == "theirs-first":
        theirs.instrument()
        synapsekit.instrument("openai")
    else:
        synapsekit.instrument("openai")
        theirs.instrument()
    yield
    theirs.uninstrument()


def convention_attributes(span: Any) -> dict[str, Any]:
    return {
        key: value
        for key, value in (span.attributes or {}).items()
        if key.startswith(("gen_ai.", "openai.")) and key not in _CONTENT
    }


def side_by_side(span_exporter: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(their attributes, our attributes) for each request, in order."""
    spans = span_exporter.get_finished_spans()
    ours = [convention_attributes(s) for s in spans if s.instrumentation_scope.name == "synapsekit"]
    theirs = [convention_attributes(s) for s in spans if s.instrumentation_scope.name != "synapsekit"]
    assert len(ours) == len(theirs) >= 1
    return list(zip(theirs, ours, strict=True))


def assert_ours_has_theirs(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    missing = {key: value for key, value in theirs.items() if key not in ours}
    different = {
        key: (value, ours[key]) for key, value in theirs.items() if key in ours and ours[key] != value
    }
    assert (missing, different) == ({}, {})


CASES = {
    "plain": {},
    "every-parameter": EVERY_PARAMETER,
    "stop-as-a-string": {"stop": "END", "n": 1, "temperature": 0},
}


@pytest.mark.parametrize("both", ["theirs-first", "ours-first"], indirect=True)
@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_attribute_theirs_records_is_ours_with_the_same_value(
    both: None, client: openai.OpenAI, span_exporter: Any, case: str, stream: bool
) -> None:
    parameters = CASES[case]
    if stream:
        list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, **parameters))
    else:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, **parameters)
    ((theirs, ours),) = side_by_side(span_exporter)
    # Theirs records the request's parameters and the response: a comparison of a handful of keys proves little.
    assert {"gen_ai.request.model", "gen_ai.response.id", "gen_ai.response.model"} <= theirs.keys()
    if case == "every-parameter":
        assert len(theirs) >= 16
    assert_ours_has_theirs(theirs, ours)


@pytest.mark.parametrize("both", ["ours-first"], indirect=True)
def test_every_genai_metric_theirs_records_is_ours(
    both: None, client: openai.OpenAI, metrics: Any, span_exporter: Any
) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    list(
        client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-test-chunk-delay-ms": "2"},
        )
    )
    ours = metrics.points("synapsekit")
    theirs: dict[str, list[Any]] = {}
    for scope in ("opentelemetry.instrumentation.openai_v2", "opentelemetry.util.genai.handler"):
        for name, points in metrics.points(scope).items():
            theirs.setdefault(name, []).extend(points)
    assert "gen_ai.client.operation.duration" in theirs
    assert sorted(name for name in theirs if name not in ours) == []
    # The same number of observations for what both record.
    for name in theirs:
        assert sum(p.count for p in ours[name]) == sum(p.count for p in theirs[name]), name

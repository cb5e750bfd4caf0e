"""The GenAI conventions' request parameters, response details and streaming metrics, over a real openai SDK.

Request parameters (``gen_ai.request.temperature``, ...) and how a response was served
(``openai.response.system_fingerprint``, ...) are span attributes, read only when the span records; the
streaming metrics (``gen_ai.client.operation.time_to_first_chunk`` / ``time_per_output_chunk``) are recorded
whenever the global MeterProvider is the SDK's.
"""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from synapsekit_instrumentation_openai._chat import ChatOperation, record_chat_completion
from synapsekit_instrumentation_openai._responses import ResponsesOperation

import synapsekit
from conftest import RecordingSink
from synapsekit._core import spans as _spans
from synapsekit._core.call import LLMCall
from synapsekit._otel.metrics import GenAIMetricsSink

pytestmark = pytest.mark.usefixtures("instrumented")

MODEL = "gpt-4o-mini"
MESSAGES: Any = [{"role": "user", "content": "one two three"}]
REQUEST_PARAMETERS = (
    "gen_ai.request.temperature",
    "gen_ai.request.top_p",
    "gen_ai.request.seed",
    "gen_ai.request.stop_sequences",
    "gen_ai.request.frequency_penalty",
    "gen_ai.request.presence_penalty",
    "gen_ai.request.choice.count",
    "gen_ai.output.type",
    "openai.request.service_tier",
)
# What the test server says about how it served every response (and every chunk).
SERVED_BY = {
    "openai.response.service_tier": "default",
    "openai.response.system_fingerprint": "fp_synapsekit_test",
}


def only_attributes(span_exporter: Any) -> dict[str, Any]:
    (span,) = span_exporter.get_finished_spans()
    return dict(span.attributes)


def test_every_parameter_the_conventions_name(client: openai.OpenAI, span_exporter: Any) -> None:
    client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        temperature=0.5,
        top_p=1,  # an int: the conventions' type is double
        seed=42,
        stop="END",
        frequency_penalty=0.25,
        presence_penalty=-0.5,
        n=2,
        response_format={"type": "json_object"},
        service_tier="flex",
    )
    attributes = only_attributes(span_exporter)
    assert {key: attributes.get(key) for key in REQUEST_PARAMETERS} == {
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 1.0,
        "gen_ai.request.seed": 42,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.request.frequency_penalty": 0.25,
        "gen_ai.request.presence_penalty": -0.5,
        "gen_ai.request.choice.count": 2,
        "gen_ai.output.type": "json",
        "openai.request.service_tier": "flex",
    }
    assert type(attributes["gen_ai.request.top_p"]) is float
    assert {key: attributes.get(key) for key in SERVED_BY} == SERVED_BY
    assert "gen_ai.request.stream" not in attributes  # set on streamed requests only


def test_parameters_left_out_are_no_attributes(client: openai.OpenAI, span_exporter: Any) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    attributes = only_attributes(span_exporter)
    assert [key for key in REQUEST_PARAMETERS if key in attributes] == []
    assert {key: attributes.get(key) for key in SERVED_BY} == SERVED_BY


def test_values_of_the_wrong_type_are_left_out_without_error(
    client: openai.OpenAI, span_exporter: Any, sink: RecordingSink
) -> None:
    # The suite is strict: an internal error here would raise rather than be logged.
    client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        temperature="hot",  # type: ignore[arg-type]
        seed=True,  # type: ignore[arg-type]  (a bool is not an int seed)
        stop=["END", 7],  # type: ignore[list-item]
        n="2",  # type: ignore[arg-type]
        top_p=0.9,
    )
    attributes = only_attributes(span_exporter)
    assert {key: attributes[key] for key in REQUEST_PARAMETERS if key in attributes} == {
        "gen_ai.request.top_p": 0.9
    }
    assert (sink.only.input_tokens, sink.only.output_tokens) == (3, 12)


@pytest.mark.parametrize(
    ("stop", "recorded"),
    [("END", ("END",)), (["END", "STOP"], ("END", "STOP")), ([], None)],
    ids=["str", "list", "empty-list"],
)
def test_stop_as_a_string_or_a_list(
    client: openai.OpenAI, span_exporter: Any, stop: Any, recorded: tuple[str, ...] | None
) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES, stop=stop)
    assert only_attributes(span_exporter).get("gen_ai.request.stop_sequences") == recorded


@pytest.mark.parametrize(("n", "recorded"), [(1, None), (3, 3)])
def test_choice_count_only_when_more_than_one(
    client: openai.OpenAI, span_exporter: Any, n: int, recorded: int | None
) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES, n=n)
    assert only_attributes(span_exporter).get("gen_ai.request.choice.count") == recorded


def test_stream_span_has_the_conventions_stream_names(client: openai.OpenAI, span_exporter: Any) -> None:
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, temperature=0.0)
    )
    assert len(chunks) == 14
    attributes = only_attributes(span_exporter)
    assert attributes["gen_ai.request.stream"] is True
    assert 0 < attributes["gen_ai.response.time_to_first_chunk"] < 5
    assert attributes["gen_ai.request.temperature"] == 0.0
    assert {key: attributes.get(key) for key in SERVED_BY} == SERVED_BY
    assert not [key for key in attributes if key.startswith("synapsekit.streamed") or "first_chunk_s" in key]


def test_raw_stream_reads_how_it_was_served(client: openai.OpenAI, span_exporter: Any) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True, seed=7
    ) as response:
        for _ in response.iter_lines():
            pass
    attributes = only_attributes(span_exporter)
    assert attributes["gen_ai.request.seed"] == 7
    assert {key: attributes.get(key) for key in SERVED_BY} == SERVED_BY


def test_responses_api_parameters_and_service_tier(client: openai.OpenAI, span_exporter: Any) -> None:
    client.responses.create(model=MODEL, input="one two three", temperature=0.25, top_p=0.5)
    attributes = only_attributes(span_exporter)
    assert {key: attributes[key] for key in REQUEST_PARAMETERS if key in attributes} == {
        "gen_ai.request.temperature": 0.25,
        "gen_ai.request.top_p": 0.5,
    }


# -- only when a span records ----------------------------------------------------------------------------------
def _refuse(self: Any, body: Any) -> dict[str, Any]:
    raise AssertionError("request parameters read with no span recording")


@pytest.mark.parametrize("tracing", ["no-tracer", "sampled-out"])
def test_parameters_are_not_read_without_a_recording_span(
    client: openai.OpenAI, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch, tracing: str
) -> None:
    tracer = None if tracing == "no-tracer" else TracerProvider(sampler=ALWAYS_OFF).get_tracer("t")
    monkeypatch.setattr(_spans, "active_tracer", lambda: tracer)
    monkeypatch.setattr(ChatOperation, "request_attributes", _refuse)
    monkeypatch.setattr(ResponsesOperation, "request_attributes", _refuse)
    client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.5)
    list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, temperature=0.5))
    client.responses.create(model=MODEL, input="one two three", temperature=0.5)
    assert [(call.span_attributes, call.output_tokens) for call in sink.ended] == [(None, 12)] * 3


# -- metrics -----------------------------------------------------------------------------------------------------
CHUNK_DELAY_MS = 5


def test_stream_records_time_to_first_chunk_and_per_output_chunk(
    client: openai.OpenAI, sink: RecordingSink, metrics: Any
) -> None:
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-test-chunk-delay-ms": str(CHUNK_DELAY_MS)},
        )
    )
    call = sink.only
    assert call.chunks == len(chunks) == 14
    points = metrics.points()
    (first,) = points["gen_ai.client.operation.time_to_first_chunk"]
    (per_chunk,) = points["gen_ai.client.operation.time_per_output_chunk"]
    assert first.count == 1
    assert first.sum == pytest.approx(call.time_to_first_chunk_s)
    # One gap per chunk after the first: the times between the chunks as the call saw them arrive (the
    # server pauses between chunks, but the client may read two at once: their gap is not bounded below).
    times = call.chunk_times_ns
    assert times is not None and len(times) == 14
    gaps = [(later - earlier) / 1e9 for earlier, later in pairwise(times)]
    assert per_chunk.count == 13
    assert (per_chunk.min, per_chunk.max) == (min(gaps), max(gaps))
    assert per_chunk.sum == pytest.approx((times[-1] - times[0]) / 1e9)
    assert (
        first.attributes
        == per_chunk.attributes
        == {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": MODEL,
            "gen_ai.response.model": MODEL,
            "server.address": "127.0.0.1",
            "server.port": client.base_url.port,
        }
    )
    (duration,) = points["gen_ai.client.operation.duration"]
    assert duration.count == 1


def test_plain_call_records_no_streaming_metrics(client: openai.OpenAI, metrics: Any) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    points = metrics.points()
    assert "gen_ai.client.operation.time_to_first_chunk" not in points
    assert "gen_ai.client.operation.time_per_output_chunk" not in points
    assert sorted(
        (point.attributes["gen_ai.token.type"], point.sum) for point in points["gen_ai.client.token.usage"]
    ) == [
        ("input", 3),
        ("output", 12),
    ]


def test_metrics_sink_added_too_records_nothing_twice(client: openai.OpenAI, metrics: Any) -> None:
    # OTelExporter.install() adds this sink; with the SDK's MeterProvider the core records already.
    sink = GenAIMetricsSink()
    synapsekit.add_sink(sink)
    try:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    finally:
        synapsekit.remove_sink(sink)
    points = metrics.points()
    assert [point.count for point in points["gen_ai.client.operation.duration"]] == [2]
    assert sorted(point.count for point in points["gen_ai.client.token.usage"]) == [2, 2]
    assert [point.count for point in points["gen_ai.client.operation.time_to_first_chunk"]] == [1]


@pytest.mark.parametrize(
    "completion",
    [
        {"model": "gpt-4o-mini", "choices": [], "service_tier": "default", "system_fingerprint": "fp_1"},
        SimpleNamespace(
            usage=None,
            choices=[],
            model="gpt-4o-mini",
            id="c1",
            service_tier="default",
            system_fingerprint="fp_1",
        ),
        # An SDK model of a version without the fields (read one by one, None when absent).
        SimpleNamespace(usage=None, choices=[], model="gpt-4o-mini", id="c1"),
        {"choices": [], "service_tier": "", "system_fingerprint": 7},
    ],
    ids=["raw-dict", "model", "model-without-the-fields", "unusable-values"],
)
def test_how_a_response_was_served_is_read_from_models_and_raw_bodies(completion: Any) -> None:
    call = LLMCall("openai", "chat", "gpt-4o-mini")
    call.span_attributes = {"gen_ai.request.temperature": 0.5}
    record_chat_completion(call, completion)
    served = {
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_1",
    }
    fields = completion if isinstance(completion, dict) else vars(completion)
    expected = {"gen_ai.request.temperature": 0.5}
    if fields.get("service_tier") == "default":
        expected.update(served)
    assert call.span_attributes == expected
    assert list(call.span_attributes) == list(expected)
    # Without a recording span, nothing is read for it.
    plain = LLMCall("openai", "chat", "gpt-4o-mini")
    record_chat_completion(plain, completion)
    assert plain.span_attributes is None

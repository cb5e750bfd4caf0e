"""What an instrumentor read from the request and the response reaches the span exactly as ``set_attributes``
would store it.

``spans.end`` checks those values itself (in C, all at once) and writes the span's closing attributes directly
only when every one is plain; anything the SDK would clean or drop (a list, a tuple with a non-str item, a str
subclass, None) sends the whole set through the public ``set_attributes``. Each case ends the same call twice,
once with direct writes allowed and once with them forbidden, and compares the exported attributes in order.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider, _Span
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from synapsekit._core import span_attributes, spans
from synapsekit._core.call import LLMCall, start_call


class Tier(str, enum.Enum):
    """A str subclass: the SDK stores it as it is, but it is not a plain str."""

    DEFAULT = "default"


Mutation = Callable[[LLMCall], None]


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    monkeypatch.setattr(spans, "active_tracer", lambda: tracer)
    monkeypatch.setattr(spans, "_start_state", (None, None, None, False))
    yield provider, exporter
    provider.shutdown()


def ended(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    mutate: Mutation,
    *,
    direct_allowed: bool,
) -> tuple[list[tuple[str, Any]], int]:
    """End one call changed by ``mutate``; the exported attributes and how often set_attributes ran."""
    public_calls: list[object] = []
    original = _Span.set_attributes

    def public(self: Any, values: Any) -> None:
        public_calls.append(values)
        original(self, values)

    monkeypatch.setattr(_Span, "set_attributes", public)
    monkeypatch.setattr(span_attributes, "_direct_types", {} if direct_allowed else {_Span: False})
    call = start_call("openai", "chat", "gpt-4o-mini", max_output_tokens=64)
    call.record_usage(input_tokens=12, output_tokens=7)
    mutate(call)
    call.finish()
    monkeypatch.setattr(_Span, "set_attributes", original)
    finished = exporter.get_finished_spans()[-1]
    return list((finished.attributes or {}).items()), len(public_calls)


def plain_response(call: LLMCall) -> None:
    call.record_response(model="gpt-4o-mini-2024-07-18", response_id="chatcmpl-1", finish_reasons=("stop",))
    call.span_attributes = {"openai.response.system_fingerprint": "fp_1"}


def test_a_plain_response_is_written_directly_and_stored_as_set_attributes_would(
    provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, exporter = provider
    direct, public_calls = ended(exporter, monkeypatch, plain_response, direct_allowed=True)
    assert public_calls == 0
    expected, _ = ended(exporter, monkeypatch, plain_response, direct_allowed=False)
    assert direct == expected
    assert ("gen_ai.response.finish_reasons", ("stop",)) in direct
    assert ("gen_ai.usage.input_tokens", 12) in direct


def _odd_finish_reasons(call: LLMCall) -> None:
    call.record_response(model="gpt-4o-mini", finish_reasons=("stop", 1))  # type: ignore[arg-type]


def _list_of_finish_reasons(call: LLMCall) -> None:
    call.record_response(model="gpt-4o-mini", finish_reasons=["stop"])  # type: ignore[arg-type]


def _str_subclass_model(call: LLMCall) -> None:
    call.record_response(model=Tier.DEFAULT)


def _str_subclass_id(call: LLMCall) -> None:
    call.record_response(response_id=Tier.DEFAULT)


def _request_attribute_list(call: LLMCall) -> None:
    call.span_attributes = {"gen_ai.request.stop_sequences": ["END", "STOP"]}


def _request_attribute_none(call: LLMCall) -> None:
    call.span_attributes = {"openai.request.service_tier": None}


def _odd_max_tokens(call: LLMCall) -> None:
    call.max_output_tokens = Tier.DEFAULT  # type: ignore[assignment]


def _odd_budget_note(call: LLMCall) -> None:
    call.budget_attributes = {"synapsekit.budget.name": Tier.DEFAULT}


@pytest.mark.parametrize(
    "mutate",
    [
        _odd_finish_reasons,
        _list_of_finish_reasons,
        _str_subclass_model,
        _str_subclass_id,
        _request_attribute_list,
        _request_attribute_none,
        _odd_max_tokens,
        _odd_budget_note,
    ],
)
def test_a_value_the_sdk_would_clean_sends_the_attributes_through_set_attributes(
    provider: Any, monkeypatch: pytest.MonkeyPatch, mutate: Mutation
) -> None:
    _, exporter = provider
    got, public_calls = ended(exporter, monkeypatch, mutate, direct_allowed=True)
    assert public_calls == 1
    expected, _ = ended(exporter, monkeypatch, mutate, direct_allowed=False)
    assert got == expected

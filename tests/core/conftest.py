from __future__ import annotations

from collections.abc import Iterator

import pytest

from synapsekit import _sinks
from synapsekit._call import LLMCall


class RecordingSink:
    """A sink that keeps every call it is handed."""

    def __init__(self) -> None:
        self.started: list[LLMCall] = []
        self.ended: list[LLMCall] = []

    def on_call_start(self, call: LLMCall) -> None:
        self.started.append(call)

    def on_call_end(self, call: LLMCall) -> None:
        self.ended.append(call)


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    recording = RecordingSink()
    _sinks.add_sink(recording)
    yield recording
    _sinks.remove_sink(recording)

"""``CallRecorder``: a sink that keeps every LLM call, for asserting on what synapsekit recorded."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from synapsekit._core import sinks as _sinks

if TYPE_CHECKING:
    from synapsekit._core.call import LLMCall


class CallRecorder:
    """Keeps every call the process-wide sinks see: ``with CallRecorder() as calls: ...; calls.only``.

    ``started`` and ``ended`` list calls in order; ``ended`` holds each provider request exactly once.
    """

    def __init__(self) -> None:
        self.started: list[LLMCall] = []
        self.ended: list[LLMCall] = []

    def on_call_start(self, call: LLMCall) -> None:
        self.started.append(call)

    def on_call_end(self, call: LLMCall) -> None:
        self.ended.append(call)

    @property
    def only(self) -> LLMCall:
        """The one call that ended; fails unless exactly one did."""
        assert len(self.ended) == 1, self.ended
        return self.ended[0]

    def attach(self) -> CallRecorder:
        _sinks.add_sink(self)
        return self

    def detach(self) -> None:
        _sinks.remove_sink(self)

    def __enter__(self) -> CallRecorder:
        return self.attach()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.detach()

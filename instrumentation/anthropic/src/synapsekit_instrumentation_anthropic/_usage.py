"""Anthropic usage → synapsekit counts.

Anthropic reports ``input_tokens`` *without* the prompt-cache tokens, which come beside it as
``cache_read_input_tokens`` and ``cache_creation_input_tokens`` (priced differently). synapsekit follows the
OpenTelemetry GenAI convention instead: its ``input_tokens`` is the sum of all three, with the two cache
counts kept separately. Thinking tokens are part of ``output_tokens`` in both.

In a stream, ``message_start`` carries the input side and a placeholder ``output_tokens``;
``message_delta`` carries the final *cumulative* counts. Each field therefore keeps its latest reported
value — counts are replaced, never added up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall


def field(obj: Any, name: str) -> Any:
    """``obj.name`` of an SDK model, ``obj[name]`` of the plain JSON read from a raw body; None when absent."""
    return obj.get(name) if type(obj) is dict else getattr(obj, name, None)


def _count(usage: Any, name: str) -> int | None:
    value = field(usage, name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class UsageCounts:
    """The latest value of each usage field one message reported so far."""

    __slots__ = ("cache_creation", "cache_read", "input", "output", "output_final", "reasoning")

    def __init__(self) -> None:
        self.input: int | None = None
        self.cache_read: int | None = None
        self.cache_creation: int | None = None
        self.output: int | None = None
        self.reasoning: int | None = None
        # message_start's output count is a placeholder; only a final report may be billed as output.
        self.output_final = False

    @property
    def has_input(self) -> bool:
        return self.input is not None

    def update(self, usage: Any, *, final: bool) -> None:
        """Take the fields ``usage`` (``Usage`` or ``MessageDeltaUsage``) reports; the others keep theirs."""
        if usage is None:
            return
        for name, attribute in (
            ("input_tokens", "input"),
            ("cache_read_input_tokens", "cache_read"),
            ("cache_creation_input_tokens", "cache_creation"),
            ("output_tokens", "output"),
        ):
            value = _count(usage, name)
            if value is not None:
                setattr(self, attribute, value)
        reasoning = _count(field(usage, "output_tokens_details"), "thinking_tokens")
        if reasoning is not None:
            self.reasoning = reasoning
        if final:
            self.output_final = True

    def record(self, call: LLMCall) -> None:
        """Write the counts known so far to ``call`` (the output count only once it is final)."""
        cache_read = self.cache_read or 0
        cache_creation = self.cache_creation or 0
        call.record_usage(
            input_tokens=None if self.input is None else self.input + cache_read + cache_creation,
            cached_input_tokens=cache_read,
            cache_creation_input_tokens=cache_creation,
            output_tokens=self.output if self.output_final else None,
            reasoning_tokens=self.reasoning if self.output_final else None,
        )

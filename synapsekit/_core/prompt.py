"""A request's prompt as its text parts, joined only when the text itself is needed.

A budget reserves for the input tokens of every request before it is sent. Without tiktoken for the model
that count is the documented estimate of :mod:`synapsekit._core.estimate`, which needs only the number of
characters: summing the parts' lengths costs one step per part (per message), where joining them first
copied every byte of the prompt (a megabyte prompt, a megabyte copied on every call). Instrumentors hand
:func:`synapsekit.plugin.start_call` a :class:`PromptParts` (or a callable returning one) to opt in; a plain
string works as before.
"""

from __future__ import annotations

from typing import Final

SEPARATOR: Final = "\n"


class PromptParts:
    """The parts of a prompt, as ``separator.join(parts)`` would read; ``len()`` without joining.

    The parts are not to be changed once given: the length is measured when the object is built.
    """

    __slots__ = ("_length", "_text", "parts", "separator")

    def __init__(self, parts: list[str], separator: str = SEPARATOR) -> None:
        self.parts = parts
        self.separator = separator
        self._text: str | None = None
        # Measured here, once, in C (map/sum: one step per part, no bytecode per part), and kept: a budget
        # reads it as an attribute on every call (a __len__ frame fewer).
        self._length = sum(map(len, parts)) + len(separator) * (len(parts) - 1) if parts else 0

    def __len__(self) -> int:
        return self._length

    def __bool__(self) -> bool:
        return len(self) > 0

    @property
    def text(self) -> str:
        """The joined text (built once, on first use: tiktoken and content capture need it)."""
        text = self._text
        if text is None:
            text = self._text = self.separator.join(self.parts)
        return text

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PromptParts):
            return self.text == other.text
        if isinstance(other, str):
            return self.text == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"PromptParts({len(self.parts)} parts, {len(self)} chars)"

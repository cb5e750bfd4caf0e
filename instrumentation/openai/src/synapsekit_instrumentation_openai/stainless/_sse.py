"""Server-sent events cut out of a byte stream whole, so that one event can be read — or dropped — intact.

The SDKs decode their streams themselves; this is only for the bytes a caller of a raw response reads, which
synapsekit reads alongside (and from which it removes the usage chunk it asked for on the caller's behalf).
Line ends may be ``\\r\\n``, ``\\n`` or ``\\r`` (the SSE specification allows all three); an event ends at a
blank line. Every byte is handed back exactly once and in order, so what the caller reads is the original
stream minus the dropped events.
"""

from __future__ import annotations

import re

# A line end followed by another: the blank line that ends an event. Atomic groups, so that ``\r\n`` is one
# line end and never a ``\r`` line end followed by a ``\n`` one.
_EVENT_END = re.compile(rb"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")
_LINE_END = re.compile(r"\r\n|\r|\n")


class EventSplitter:
    """Feeds bytes in, hands complete events (with their terminating blank line) out."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._pending + data if self._pending else data
        events: list[bytes] = []
        start = 0
        search = _EVENT_END.search
        while True:
            found = search(buffer, start)
            # A trailing ``\r`` may be the first half of a ``\r\n`` still in flight: wait for the next bytes.
            if found is None or (found.end() == len(buffer) and buffer.endswith(b"\r")):
                break
            events.append(buffer[start : found.end()])
            start = found.end()
        self._pending = buffer[start:]
        return events

    def flush(self) -> bytes:
        """What is left once the stream ended: an unterminated last event, or nothing."""
        pending, self._pending = self._pending, b""
        return pending


def event_data(event: bytes) -> str | None:
    """The ``data`` of one event (its ``data:`` lines joined by newlines), or None when it has none."""
    lines = []
    for line in _LINE_END.split(event.decode("utf-8", "replace")):
        if line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
    return "\n".join(lines) if lines else None

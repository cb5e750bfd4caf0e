"""``TokenTracer``: token usage of every LLM call made through it."""

from __future__ import annotations

from typing import Any

from synapsekit._core.scope import Scope, Tally
from synapsekit.observability._facade import ScopedLLM


class TokenTracer(ScopedLLM):
    """Tracks token usage across all LLM calls in a session.

    ``tracer = TokenTracer(llm)``; ``await tracer.generate(prompt)``; ``tracer.tokens_used`` is
    ``{"input": int, "output": int, "total": int}``. Every LLM call made inside ``generate``/``stream`` by
    any layer is counted once; a stream is counted when it completes or is closed early (then with
    estimated output tokens if the provider had not reported usage yet).
    """

    def __init__(self, llm: Any) -> None:
        super().__init__(llm)
        self._tally = Tally()

    def _scope_for(self, prompt: str) -> Scope:
        return self._tally

    @property
    def tally(self) -> Tally:
        """All counters (cached, reasoning, calls, estimated calls), beyond the spec's ``tokens_used``."""
        return self._tally

    @property
    def tokens_used(self) -> dict[str, int]:
        return self._tally.tokens

    def reset(self) -> None:
        self._tally.reset()

"""The base of the spec's wrapper classes: a ``BaseLLM`` that runs its inner LLM inside a scope.

``TokenTracer(llm)``, ``CostTracker(llm)`` and ``BudgetGuard(llm, ...)`` are doors into the ambient
machinery: each call through them enters the facade's scope, so every LLM call made underneath — by the
wrapped component, an instrumented SDK, or a pipeline making several calls — reports to it. Facades are
themselves ``BaseLLM``s, so they compose (``BudgetGuard(llm=CostTracker(llm))``); any other attribute is
looked up on the wrapped component. The wrapped LLM is checked when the facade is built: a model name, ``None``
or a number passed by mistake fails there, not at the first call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from synapsekit._core.context import leave_scope, push_scope
from synapsekit._core.scope import Scope
from synapsekit._llms.base import BaseLLM, Generation, LLMConfig


def shown(value: object) -> str:
    """``value`` as an error message names it: its type and a short repr (``str 'gpt-4o-mini'``)."""
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def check_llm(llm: object) -> None:
    """Raise TypeError unless ``llm`` can stand for an LLM: a ``BaseLLM``, or any object with ``generate``."""
    # Duck typing on purpose: a user's own client wrapper, or another library's LLM with ``generate``, is
    # wrapped as it is; only what can never generate is refused.
    if isinstance(llm, BaseLLM) or callable(getattr(llm, "generate", None)):
        return
    raise TypeError(f"llm must be a BaseLLM or an object with an async generate() method, got {shown(llm)}")


class ScopedLLM(BaseLLM):
    def __init__(self, llm: Any) -> None:
        check_llm(llm)
        # No BaseLLM.__init__: the config is the wrapped component's.
        self._llm = llm

    @property
    def llm(self) -> Any:
        return self._llm

    @property
    def config(self) -> LLMConfig:  # type: ignore[override]
        config: LLMConfig = self._llm.config
        return config

    @property
    def model(self) -> str:
        model: str = self._llm.model
        return model

    def _scope_for(self, prompt: str) -> Scope:
        """The scope one call through this facade enters."""
        raise NotImplementedError

    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        raise NotImplementedError  # generate() is overridden; nothing reaches this.

    async def generate(self, prompt: str, **kwargs: Any) -> str:
        scope = self._scope_for(prompt)
        push_scope(scope)
        try:
            result: str = await self._llm.generate(prompt, **kwargs)
        finally:
            leave_scope(scope)
        return result

    async def stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str]:
        scope = self._scope_for(prompt)
        chunks = self._llm.stream(prompt, **kwargs)
        try:
            while True:
                # The scope is active only while the inner stream runs, never across our own yield.
                push_scope(scope)
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
                finally:
                    leave_scope(scope)
                yield chunk
        finally:
            push_scope(scope)
            try:
                await chunks.aclose()
            finally:
                leave_scope(scope)

    def __getattr__(self, name: str) -> Any:
        if name == "_llm":
            raise AttributeError(name)
        return getattr(self._llm, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._llm!r})"

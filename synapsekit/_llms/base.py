"""``BaseLLM`` and ``LLMConfig``: the LLM component the spec's facades wrap.

A subclass implements :meth:`BaseLLM._generate` (and optionally :meth:`BaseLLM._stream`) and reports the
provider's usage in what it returns; the base class runs the call lifecycle around it, so a user's own
``BaseLLM`` is counted, priced and budgeted exactly like an instrumented SDK. When the subclass calls an
instrumented SDK, the SDK-level call is authoritative and the ``BaseLLM`` layer only enriches it.
"""

from __future__ import annotations

import abc
import math
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from synapsekit._core.call import active_call_var, start_call


@dataclass
class LLMConfig:
    """Configuration shared by the bundled LLM components."""

    model: str
    api_key: str | None = None
    provider: str | None = None
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    system_prompt: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here, where the config is written, rather than deep inside the SDK at the first call.
        if not isinstance(self.model, str):
            raise TypeError(f"model must be a str such as 'gpt-4o-mini', got {_shown(self.model)}")
        if not self.model.strip():
            raise ValueError("model must not be empty")
        for name in ("api_key", "provider", "base_url", "system_prompt"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None, got {_shown(value)}")
        _check_number("temperature", self.temperature, "a number or None", minimum_excluded=False)
        # The SDKs also take an httpx timeout object, passed to them as it is.
        if isinstance(self.timeout, str | bytes):
            raise TypeError(f"timeout must be a number of seconds or None, got {_shown(self.timeout)}")
        if isinstance(self.timeout, int | float):
            _check_number("timeout", self.timeout, "a number of seconds or None", minimum_excluded=True)
        _check_count("max_tokens", self.max_tokens, minimum=1)
        _check_count("max_retries", self.max_retries, minimum=0)
        if not isinstance(self.extra, dict):
            raise TypeError(f"extra must be a dict, got {_shown(self.extra)}")

    def __repr__(self) -> str:
        # Never print a secret, not even in a traceback or a log line.
        key = "'***'" if self.api_key else "None"
        return (
            f"LLMConfig(model={self.model!r}, api_key={key}, provider={self.provider!r},"
            f" base_url={self.base_url!r}, temperature={self.temperature!r}, max_tokens={self.max_tokens!r})"
        )


def _shown(value: object) -> str:
    return "None" if value is None else f"{type(value).__name__} {value!r}"


def _check_number(name: str, value: object, expected: str, *, minimum_excluded: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {expected}, got {_shown(value)}")
    if not math.isfinite(value) or value < 0 or (minimum_excluded and value == 0):
        bound = "> 0" if minimum_excluded else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def _check_count(name: str, value: object, *, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, got {_shown(value)}")
    if value < minimum:
        bound = "> 0" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")


@dataclass(frozen=True)
class Usage:
    """Token usage as the provider reported it (``input_tokens`` includes cached tokens)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False


@dataclass(frozen=True)
class Generation:
    """What :meth:`BaseLLM._generate` returns."""

    text: str
    usage: Usage | None = None
    model: str | None = None
    finish_reason: str | None = None
    response_id: str | None = None


class BaseLLM(abc.ABC):
    """An LLM component: ``await llm.generate(prompt)`` and ``async for chunk in llm.stream(prompt)``."""

    provider: str = "custom"
    operation: str = "chat"

    def __init__(self, config: LLMConfig) -> None:
        if not isinstance(config, LLMConfig):
            message = f"config must be an LLMConfig, got {_shown(config)}"
            if isinstance(config, str):
                # The common slip: the model name where the config goes.
                message += f": write {type(self).__name__}(LLMConfig(model={config!r}))"
            raise TypeError(message)
        self.config = config

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def provider_name(self) -> str:
        return self.config.provider or self.provider

    # -- what subclasses implement ----------------------------------------------------------------------
    @abc.abstractmethod
    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        """Produce a completion for ``prompt``, with the provider's usage when it has one."""

    async def _stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str | Usage]:
        """Yield text chunks, and a :class:`Usage` once known. Defaults to one chunk from ``_generate``."""
        generation = await self._generate(prompt, **kwargs)
        yield generation.text
        if generation.usage is not None:
            yield generation.usage

    # -- the public API, with the call lifecycle around it -------------------------------------------------
    async def generate(self, prompt: str, **kwargs: Any) -> str:
        call = start_call(
            self.provider_name,
            self.operation,
            self.model,
            max_output_tokens=kwargs.get("max_tokens", self.config.max_tokens),
            prompt=prompt,
            wire=False,
        )
        with call:
            generation = await self._generate(prompt, **kwargs)
        if generation.usage is not None:
            _record(call, generation.usage)
        call.record_response(
            model=generation.model,
            response_id=generation.response_id,
            finish_reasons=(generation.finish_reason,) if generation.finish_reason else None,
        )
        if call.input_tokens is None and not call.delegated:
            call.estimate_missing_usage(generation.text)
        call.finish()
        return generation.text

    async def stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str]:
        call = start_call(
            self.provider_name,
            self.operation,
            self.model,
            streamed=True,
            max_output_tokens=kwargs.get("max_tokens", self.config.max_tokens),
            prompt=prompt,
            wire=False,
        )
        chunks: AsyncGenerator[str | Usage, None] = self._stream(prompt, **kwargs)  # type: ignore[assignment]
        completed = False
        try:
            while True:
                # The call is in flight only while the inner stream runs, never across our own yield.
                token = active_call_var.set(call)
                try:
                    item = await chunks.__anext__()
                except StopAsyncIteration:
                    completed = True
                    break
                finally:
                    active_call_var.reset(token)
                if isinstance(item, Usage):
                    _record(call, item)
                    continue
                call.chunk(item)
                yield item
        except GeneratorExit:
            raise  # closed early (aclose() or garbage collection): abandoned, not failed
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            if not completed:
                await chunks.aclose()
            # Idempotent: after a failure above this does nothing.
            call.abandon()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


def _record(call: Any, usage: Usage) -> None:
    call.record_usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        estimated=usage.estimated,
    )

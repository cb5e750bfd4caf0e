"""``OpenAILLM``: a :class:`~synapsekit.BaseLLM` on the openai SDK's chat completions.

Counted once whether or not the SDK is instrumented: with ``synapsekit.instrument("openai")`` the SDK-level
call is authoritative and this layer only enriches it; without it, this layer reports the usage the SDK
returned. The provider is ``LLMConfig.provider`` when given, else recognised from ``base_url`` the same
way the instrumentor does (``openai`` by default). The openai SDK is imported on first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from synapsekit._llms.base import BaseLLM, Generation, LLMConfig, Usage

if TYPE_CHECKING:
    from openai import AsyncOpenAI

INSTALL_HINT = 'OpenAILLM needs the openai package: pip install "synapsekit[openai]"'


class OpenAILLM(BaseLLM):
    """``OpenAILLM(LLMConfig(model="gpt-4o-mini", api_key="sk-..."))``; ``client=`` reuses an ``AsyncOpenAI``.

    ``LLMConfig.extra`` holds default keyword arguments for ``chat.completions.create`` (e.g. ``top_p``);
    keyword arguments of :meth:`generate` / :meth:`stream` override them and the config's ``temperature``
    and ``max_tokens``.
    """

    provider = "openai"

    def __init__(self, config: LLMConfig, *, client: AsyncOpenAI | None = None) -> None:
        super().__init__(config)
        self._client = client
        self._provider = config.provider or _provider_from_base_url(config.base_url)

    @property
    def provider_name(self) -> str:
        return self._provider

    @property
    def client(self) -> AsyncOpenAI:
        """The SDK client, built from the config on first use (so a missing key fails at the first call)."""
        if self._client is None:
            try:
                from openai import AsyncOpenAI
            except ImportError as exc:
                raise ImportError(INSTALL_HINT) from exc

            options: dict[str, Any] = {}
            config = self.config
            if config.api_key is not None:
                options["api_key"] = config.api_key
            if config.base_url is not None:
                options["base_url"] = config.base_url
            if config.timeout is not None:
                options["timeout"] = config.timeout
            if config.max_retries is not None:
                options["max_retries"] = config.max_retries
            self._client = AsyncOpenAI(**options)
        return self._client

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        messages = []
        if self.config.system_prompt:
            messages.append({"role": "system", "content": self.config.system_prompt})
        messages.append({"role": "user", "content": prompt})
        return messages

    def _request(self, prompt: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        request: dict[str, Any] = {"model": config.model, "messages": self._messages(prompt)}
        if config.temperature is not None:
            request["temperature"] = config.temperature
        if config.max_tokens is not None:
            request["max_tokens"] = config.max_tokens
        request.update(config.extra)
        request.update(kwargs)
        return request

    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        completion = await self.client.chat.completions.create(**self._request(prompt, kwargs))
        choice = completion.choices[0] if completion.choices else None
        return Generation(
            text=(choice.message.content or "") if choice is not None else "",
            usage=_usage(completion.usage),
            model=completion.model,
            finish_reason=choice.finish_reason if choice is not None else None,
            response_id=completion.id,
        )

    async def _stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str | Usage]:
        request = self._request(prompt, kwargs)
        # Asked for explicitly so this layer has exact counts even when the SDK is not instrumented.
        request["stream"] = True
        request["stream_options"] = {**(request.get("stream_options") or {}), "include_usage": True}
        stream = await self.client.chat.completions.create(**request)
        usage: Usage | None = None
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
        finally:
            await stream.close()
        if usage is not None:
            yield usage


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cached_input_tokens=getattr(prompt_details, "cached_tokens", None) or 0,
        cache_creation_input_tokens=getattr(prompt_details, "cache_write_tokens", None) or 0,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None) or 0,
    )


def _provider_from_base_url(base_url: str | None) -> str:
    if not base_url:
        return "openai"
    try:
        from synapsekit_instrumentation_openai import detect_provider
    except ImportError:
        # The instrumentation package (synapsekit[openai]) knows the hosts; without it, the protocol's owner.
        return "openai"
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    return detect_provider(parts.hostname, port)

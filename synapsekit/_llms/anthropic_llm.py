"""``AnthropicLLM``: a :class:`~synapsekit.BaseLLM` on the anthropic SDK's Messages API.

The SDK is imported when the first client is built, never at ``import synapsekit``. Usage is reported the
way synapsekit counts it (input tokens include the prompt-cache reads and writes, kept apart as well). When
the SDK itself is instrumented (``synapsekit.instrument("anthropic")``) the SDK-level call is authoritative
and this layer only enriches it, so every request is counted once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from synapsekit._llms.base import BaseLLM, Generation, LLMConfig, Usage

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

INSTALL_HINT = 'AnthropicLLM needs the anthropic package: pip install "synapsekit[anthropic]"'

# The Messages API requires max_tokens; this is used when neither the call nor the config sets it.
DEFAULT_MAX_TOKENS = 1024


def _usage_of(message: Any) -> Usage | None:
    usage = getattr(message, "usage", None)
    if usage is None:
        return None
    cache_read = getattr(usage, "cache_read_input_tokens", None) or 0
    cache_creation = getattr(usage, "cache_creation_input_tokens", None) or 0
    details = getattr(usage, "output_tokens_details", None)
    return Usage(
        input_tokens=(usage.input_tokens or 0) + cache_read + cache_creation,
        output_tokens=usage.output_tokens or 0,
        cached_input_tokens=cache_read,
        cache_creation_input_tokens=cache_creation,
        reasoning_tokens=getattr(details, "thinking_tokens", None) or 0,
    )


def _text_of(message: Any) -> str:
    return "".join(block.text for block in message.content if getattr(block, "type", None) == "text")


class AnthropicLLM(BaseLLM):
    """``AnthropicLLM(LLMConfig(model="claude-haiku-4-5", api_key=...))``.

    ``config.extra`` holds extra keyword arguments of ``messages.create`` (``metadata``, ``extra_headers``,
    ``extra_body``, ...); keyword arguments of :meth:`generate` / :meth:`stream` add to them per call and take
    precedence. ``max_tokens`` defaults to 1024 (the API requires it); ``temperature`` is sent in the body.
    ``client`` lets an application share (or a test inject) an ``anthropic.AsyncAnthropic``.
    """

    provider = "anthropic"

    def __init__(self, config: LLMConfig, *, client: AsyncAnthropic | None = None) -> None:
        super().__init__(config)
        self._client = client

    @property
    def client(self) -> AsyncAnthropic:
        if self._client is None:
            try:
                from anthropic import AsyncAnthropic
            except ImportError as exc:
                raise ImportError(INSTALL_HINT) from exc

            options: dict[str, Any] = {}
            if self.config.api_key is not None:
                options["api_key"] = self.config.api_key
            if self.config.base_url is not None:
                options["base_url"] = self.config.base_url
            if self.config.timeout is not None:
                options["timeout"] = self.config.timeout
            if self.config.max_retries is not None:
                options["max_retries"] = self.config.max_retries
            self._client = AsyncAnthropic(**options)
        return self._client

    def _request(self, prompt: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        request: dict[str, Any] = {
            "model": config.model,
            "max_tokens": config.max_tokens if config.max_tokens is not None else DEFAULT_MAX_TOKENS,
            "messages": [{"role": "user", "content": prompt}],
        }
        if config.system_prompt is not None:
            request["system"] = config.system_prompt
        request.update(config.extra)
        request.update(kwargs)
        if config.temperature is not None and "temperature" not in request:
            # Sent in the body: recent SDKs no longer take ``temperature`` as a keyword argument.
            request["extra_body"] = {"temperature": config.temperature, **(request.get("extra_body") or {})}
        return request

    async def _generate(self, prompt: str, **kwargs: Any) -> Generation:
        message = await self.client.messages.create(**self._request(prompt, kwargs))
        return Generation(
            text=_text_of(message),
            usage=_usage_of(message),
            model=message.model,
            finish_reason=message.stop_reason,
            response_id=message.id,
        )

    async def _stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str | Usage]:
        async with self.client.messages.stream(**self._request(prompt, kwargs)) as stream:
            async for text in stream.text_stream:
                yield text
            usage = _usage_of(await stream.get_final_message())
        if usage is not None:
            yield usage

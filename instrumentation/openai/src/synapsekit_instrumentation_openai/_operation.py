"""The per-endpoint translation contract the generic wrappers drive."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from synapsekit.plugin import LLMCall, PromptParts

# What a request asks for, read from the SDK method's keyword arguments:
# (model, max_output_tokens, prompt text as a callable, streamed).
# A plain tuple, built on every request: a NamedTuple's constructor is one more Python call per request.
RequestInfo = tuple[str | None, int | None, Callable[[], str | PromptParts], bool]


class StreamProxyFactory(Protocol):
    """A stream proxy class: ``(sdk_stream, call, hide_usage_chunk) -> proxy``."""

    def __call__(self, wrapped: Any, call: LLMCall, hide_usage: bool, /) -> Any: ...


class Operation:
    """One endpoint: how to read its request and its response, and which stream proxies wrap its streams.

    ``name`` is the GenAI semantic-conventions operation name. ``injects_stream_usage``: the endpoint only
    reports usage in a stream when asked with ``stream_options.include_usage`` (chat completions).
    """

    name: ClassVar[str]
    sync_stream: ClassVar[StreamProxyFactory | None] = None
    async_stream: ClassVar[StreamProxyFactory | None] = None
    injects_stream_usage: ClassVar[bool] = False

    def describe(self, kwargs: Mapping[str, Any]) -> RequestInfo:
        raise NotImplementedError

    def input_messages(self, kwargs: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The request's messages for content capture (only asked when the user opted in)."""
        return None

    def record(self, call: LLMCall, result: Any) -> None:
        """Record usage, model, id and finish reasons from a complete response (SDK model or dict)."""
        raise NotImplementedError

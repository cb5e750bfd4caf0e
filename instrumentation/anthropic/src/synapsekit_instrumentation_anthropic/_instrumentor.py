"""``AnthropicInstrumentor``: what is patched in the anthropic SDK, and how it is undone exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from synapsekit.plugin import Instrumentor, unwrap_method, wrap_method
from synapsekit_instrumentation_anthropic import _messages, _sdk_spans

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]

# (method, wrapper for the sync resource, wrapper for the async resource). ``parse`` is ``create`` with a
# parser; ``stream`` builds a manager that sends its request when entered.
_METHODS: tuple[tuple[str, Wrapper, Wrapper], ...] = (
    ("create", _messages.wrap_create, _messages.wrap_async_create),
    ("parse", _messages.wrap_create, _messages.wrap_async_create),
    ("stream", _messages.wrap_stream, _messages.wrap_async_stream),
)


class AnthropicInstrumentor(Instrumentor):
    """Counts every request of ``client.messages`` (sync and async, streamed or not, ``stream()`` helpers).

    Works for ``Anthropic``/``AsyncAnthropic`` and the platform clients sharing their ``messages`` resource
    (Bedrock: provider ``aws.bedrock``; Vertex: ``gcp.vertex_ai``). With the SDK's own OpenTelemetry spans on,
    synapsekit adopts the SDK's span instead of starting a second one (see the package README).
    """

    name: ClassVar[str] = "anthropic"
    distribution: ClassVar[str] = "anthropic"
    supported: ClassVar[str] = ">=1,<3"
    module: ClassVar[str] = "anthropic"

    def __init__(self) -> None:
        super().__init__()
        self._wrapped: list[tuple[Any, str]] = []

    def _instrument(self, **options: Any) -> None:
        from anthropic.resources.messages import AsyncMessages, Messages

        for method, sync_wrapper, async_wrapper in _METHODS:
            for owner, wrapper in ((Messages, sync_wrapper), (AsyncMessages, async_wrapper)):
                if method in vars(owner) and wrap_method(owner, method, wrapper):
                    self._wrapped.append((owner, method))
        _sdk_spans.install_hook()

    def _uninstrument(self) -> None:
        _sdk_spans.remove_hook()
        while self._wrapped:
            owner, method = self._wrapped.pop()
            unwrap_method(owner, method)

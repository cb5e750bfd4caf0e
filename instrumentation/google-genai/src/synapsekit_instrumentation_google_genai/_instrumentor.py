"""``GoogleGenAIInstrumentor``: what is patched in the google-genai SDK, and how it is undone exactly."""

from __future__ import annotations

from typing import Any, ClassVar

from synapsekit.plugin import Instrumentor, unwrap_method, wrap_method

# (method, wrapper on ``Models``, wrapper on ``AsyncModels``; named in ``_wrappers``). Each method sends one HTTP request. The SDK
# split ``embed_content`` into a public method and a per-request ``_embed_content`` (Vertex picks one of
# three endpoints); where the split exists only ``_embed_content`` is patched, else ``embed_content``.
_METHODS: tuple[tuple[str, str, str], ...] = (
    ("_generate_content", "generate", "async_generate"),
    ("_generate_content_stream", "stream", "async_stream"),
    ("_embed_content", "embed", "async_embed"),
)
_EMBED_BEFORE_SPLIT = ("embed_content", "embed", "async_embed")


class GoogleGenAIInstrumentor(Instrumentor):
    """Counts every request of ``client.models`` and ``client.aio.models`` (and of chats, built on them).

    ``generate_content``, ``generate_content_stream`` and ``embed_content``, sync and async, in Gemini API
    mode (provider ``gcp.gemini``) and Vertex AI mode (``vertexai=True``: ``gcp.vertex_ai``). Patched at the
    defining classes, so clients built before instrumenting are covered.
    """

    name: ClassVar[str] = "google-genai"
    distribution: ClassVar[str] = "google-genai"
    supported: ClassVar[str] = ">=1,<4"
    module: ClassVar[str] = "google.genai"

    def __init__(self) -> None:
        super().__init__()
        self._wrapped: list[tuple[Any, str]] = []

    def _instrument(self, **options: Any) -> None:
        from google.genai.models import AsyncModels, Models

        # Imported here, not at module level: synapsekit.instrument() imports every installed instrumentor,
        # and the call machinery must not load for a client the application has not imported.
        from . import _wrappers

        for owner, is_async in ((Models, False), (AsyncModels, True)):
            methods = _METHODS if "_embed_content" in vars(owner) else (*_METHODS[:2], _EMBED_BEFORE_SPLIT)
            for name, sync_wrapper, async_wrapper in methods:
                wrapper = async_wrapper if is_async else sync_wrapper
                if name in vars(owner) and wrap_method(owner, name, getattr(_wrappers, wrapper)):
                    self._wrapped.append((owner, name))

    def _uninstrument(self) -> None:
        while self._wrapped:
            owner, name = self._wrapped.pop()
            unwrap_method(owner, name)

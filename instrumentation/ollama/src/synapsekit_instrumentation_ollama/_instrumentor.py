"""``OllamaInstrumentor``: patches ``Client._request`` and ``AsyncClient._request`` of the ollama client.

Every method of the client (``chat``, ``generate``, ``embed``, ``embeddings``) builds its typed request body
and sends it through ``_request``, which returns the typed answer or, for ``stream=True``, a generator of
typed parts. Patching there rather than at ``chat``/``generate`` also covers the module-level functions
(``ollama.chat`` is ``Client().chat`` bound at import: it looks ``_request`` up on the class at every call)
and clients created before instrumenting. Other paths (pull, list, show...) pass through untouched.
"""

from __future__ import annotations

from typing import Any, ClassVar

from synapsekit.plugin import Instrumentor, unwrap_method, wrap_method


class OllamaInstrumentor(Instrumentor):
    """Counts every chat, generate and embed request of ``ollama`` (sync, async, streamed; $0, tokens counted)."""

    name: ClassVar[str] = "ollama"
    distribution: ClassVar[str] = "ollama"
    supported: ClassVar[str] = ">=0.4,<0.7"
    module: ClassVar[str] = "ollama"

    def __init__(self) -> None:
        super().__init__()
        self._patched: list[type[Any]] = []

    def _instrument(self, **options: Any) -> None:
        from ollama._client import AsyncClient, Client

        # Imported here, not at module level: synapsekit.instrument() imports every installed instrumentor,
        # and the call machinery must not load for a client the application has not imported.
        from . import _wrappers

        for owner, wrapper in ((Client, _wrappers.wrap_request), (AsyncClient, _wrappers.wrap_async_request)):
            if wrap_method(owner, "_request", wrapper):
                self._patched.append(owner)

    def _uninstrument(self) -> None:
        while self._patched:
            unwrap_method(self._patched.pop(), "_request")

"""``CohereInstrumentor``: patches the raw v2 clients of the cohere SDK (Fern-generated, cohere >= 5.16).

``ClientV2.chat``/``chat_stream``/``embed`` (and ``cohere.Client().v2``, and ``AsyncClientV2``) delegate to
``RawV2Client`` / ``AsyncRawV2Client``, the lowest layer that still has the typed request parameters and the
typed response: below it is plain JSON over httpx. Patching there also covers ``with_raw_response``, and
clients created before instrumenting. Patched at the defining classes (wrapt), undone exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from synapsekit.plugin import Instrumentor, unwrap_method, wrap_method

_METHODS = (
    ("chat", "wrap_chat", "wrap_async_chat"),
    ("chat_stream", "wrap_chat_stream", "wrap_async_chat_stream"),
    ("embed", "wrap_embed", "wrap_async_embed"),
)


class CohereInstrumentor(Instrumentor):
    """Counts every v2 chat (plain and streamed) and embed request, sync and async, in billed units."""

    name: ClassVar[str] = "cohere"
    distribution: ClassVar[str] = "cohere"
    # 5.16 introduced the raw clients every v2 request passes through.
    supported: ClassVar[str] = ">=5.16,<8"
    module: ClassVar[str] = "cohere"

    def __init__(self) -> None:
        super().__init__()
        self._patched: list[tuple[type[Any], str]] = []

    def _instrument(self, **options: Any) -> None:
        from cohere.v2.raw_client import AsyncRawV2Client, RawV2Client

        # Imported here, not at module level: synapsekit.instrument() imports every installed instrumentor,
        # and the call machinery must not load for a client the application has not imported.
        from . import _wrappers

        for method, sync_wrapper, async_wrapper in _METHODS:
            for owner, wrapper in ((RawV2Client, sync_wrapper), (AsyncRawV2Client, async_wrapper)):
                if method in vars(owner) and wrap_method(owner, method, getattr(_wrappers, wrapper)):
                    self._patched.append((owner, method))

    def _uninstrument(self) -> None:
        while self._patched:
            owner, method = self._patched.pop()
            unwrap_method(owner, method)

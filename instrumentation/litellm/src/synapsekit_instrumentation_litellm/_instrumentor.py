"""``LiteLLMInstrumentor``: litellm's ``completion``, ``acompletion``, ``embedding`` and ``aembedding``.

Patched in ``litellm.main``, where they are defined and where litellm's async functions look up the sync
ones, and on the ``litellm`` package, which re-exports them (``litellm.completion(...)``, and litellm's
Router, call them there). A name imported before instrumenting (``from litellm import completion``) keeps
the unpatched function. litellm is a heavy import: nothing here imports it; the patches are applied when the
application imports it (post-import hook).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from synapsekit.plugin import Instrumentor, unwrap_method, wrap_method

# (function, operation as named in ``_wrappers``, is_async)
_TARGETS: tuple[tuple[str, str, bool], ...] = (
    ("completion", "CHAT", False),
    ("acompletion", "CHAT", True),
    ("embedding", "EMBEDDINGS", False),
    ("aembedding", "EMBEDDINGS", True),
)


class LiteLLMInstrumentor(Instrumentor):
    """Accounting for every request litellm sends itself (``synapsekit.instrument("litellm")``).

    Option of :meth:`instrument`: ``include_stream_usage=False`` stops asking streams for their usage chunk
    (for a server that rejects ``stream_options``; counts are then estimated).
    """

    name: ClassVar[str] = "litellm"
    distribution: ClassVar[str] = "litellm"
    # 1.82.7, 1.82.8 and 1.107.0 were compromised releases, pulled from PyPI.
    supported: ClassVar[str] = ">=1.80,<2,!=1.82.7,!=1.82.8,!=1.107.0"
    module: ClassVar[str] = "litellm"

    def __init__(self) -> None:
        super().__init__()
        self._patched: list[tuple[Any, str]] = []

    def _instrument(self, **options: Any) -> None:
        # Imported here, not at module level: synapsekit.instrument() imports every installed instrumentor,
        # and the call machinery must not load for a client the application has not imported.
        from . import _wrappers

        litellm = importlib.import_module("litellm")
        main = importlib.import_module("litellm.main")
        streaming = importlib.import_module("litellm.litellm_core_utils.streaming_handler")
        runtime = _wrappers.Runtime(
            litellm=litellm,
            stream_type=streaming.CustomStreamWrapper,
            include_stream_usage=bool(options.get("include_stream_usage", True)),
        )
        for function, operation, is_async in _TARGETS:
            make = _wrappers.async_wrapper if is_async else _wrappers.sync_wrapper
            for owner in (main, litellm):
                if getattr(owner, function, None) is not None and wrap_method(
                    owner, function, make(getattr(_wrappers, operation), runtime)
                ):
                    self._patched.append((owner, function))

    def _uninstrument(self) -> None:
        while self._patched:
            owner, function = self._patched.pop()
            unwrap_method(owner, function)

"""``OpenAIInstrumentor``: the openai SDK instrumented at its request pipeline.

One patch per client kind — ``openai._base_client.SyncAPIClient.request`` and ``AsyncAPIClient.request`` —
through which every request passes: resource methods, ``client.post(...)``, the ``with_raw_response`` /
``with_streaming_response`` views and the ``.stream()``/``.parse()`` helpers alike, on clients built before or
after instrumenting. Requests are dispatched on method and path (:func:`routes`); nothing else of the SDK is
imported, so instrumenting costs no import of ``openai.resources``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from synapsekit.plugin import Instrumentor

if TYPE_CHECKING:
    from .stainless import Operation, RequestPipeline


def routes() -> Mapping[tuple[str, str], Operation]:
    """The LLM calls among the openai API's requests, by ``(method, path)``.

    ``GET /responses/{id}`` (resuming a stored response), ``POST /responses/input_tokens`` (counting tokens)
    and the rest of the API are not calls. Imported when first asked for: loading the instrumentor (which
    ``synapsekit.instrument()`` does for every installed one) must not load what only patching needs.
    """
    from ._chat import CHAT
    from ._embeddings import EMBEDDINGS
    from ._responses import RESPONSES

    return {
        ("post", "/chat/completions"): CHAT,
        ("post", "/responses"): RESPONSES,
        ("post", "/embeddings"): EMBEDDINGS,
    }


class OpenAIInstrumentor(Instrumentor):
    """Accounting for every request the ``openai`` SDK sends (``synapsekit.instrument("openai")``).

    Options of :meth:`instrument`: ``providers`` maps ``host`` or ``host:port`` to a provider name (e.g.
    ``{"localhost:8000": "vllm"}``; see :mod:`._provider`); ``include_stream_usage=False`` stops asking chat
    streams for their usage chunk (for a server that rejects ``stream_options``; counts are then estimated).
    """

    name: ClassVar[str] = "openai"
    distribution: ClassVar[str] = "openai"
    supported: ClassVar[str] = ">=2,<4"
    module: ClassVar[str] = "openai"

    def __init__(self) -> None:
        super().__init__()
        self._pipeline: RequestPipeline | None = None

    def _instrument(self, **options: Any) -> None:
        from ._provider import EndpointResolver
        from .stainless import GeneratedSDK, RequestPipeline

        providers: Mapping[str, str] | None = options.get("providers")
        pipeline = RequestPipeline(
            GeneratedSDK(
                package="openai",
                routes=routes(),
                endpoint=EndpointResolver(providers).for_client,
                ask_stream_usage=bool(options.get("include_stream_usage", True)),
            )
        )
        pipeline.install()
        self._pipeline = pipeline

    def _uninstrument(self) -> None:
        if self._pipeline is not None:
            self._pipeline.uninstall()
            self._pipeline = None

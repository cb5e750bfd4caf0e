"""``AnthropicInstrumentor``: the anthropic SDK instrumented at its request pipeline.

One patch per client kind — ``anthropic._base_client.SyncAPIClient.request`` and ``AsyncAPIClient.request``
— through which every request of every client passes (see ``synapsekit_instrumentation_openai.stainless``),
plus, on SDKs with their own tracing, the hook that lets synapsekit adopt the SDK's span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from synapsekit.plugin import Instrumentor

if TYPE_CHECKING:
    from synapsekit_instrumentation_openai.stainless import Operation, RequestPipeline


def routes() -> Mapping[tuple[str, str], Operation]:
    """The LLM calls among the Anthropic API's requests (``/v1/messages/count_tokens`` is not one).

    Imported when first asked for: loading the instrumentor (which ``synapsekit.instrument()`` does for
    every installed one) must not load what only patching needs.
    """
    from synapsekit_instrumentation_anthropic._messages import MESSAGES

    return {("post", "/v1/messages"): MESSAGES}


class AnthropicInstrumentor(Instrumentor):
    """Counts every Messages request (sync and async, streamed or not, helpers, raw views, ``client.post``).

    Works for ``Anthropic``/``AsyncAnthropic`` and the platform clients sharing their base client (Bedrock:
    provider ``aws.bedrock``; Vertex: ``gcp.vertex_ai``). With the SDK's own OpenTelemetry spans on,
    synapsekit adopts the SDK's span instead of starting a second one (see the package README).
    """

    name: ClassVar[str] = "anthropic"
    distribution: ClassVar[str] = "anthropic"
    supported: ClassVar[str] = ">=1,<3"
    module: ClassVar[str] = "anthropic"

    def __init__(self) -> None:
        super().__init__()
        self._pipeline: RequestPipeline | None = None

    def _instrument(self, **options: Any) -> None:
        from synapsekit_instrumentation_openai.stainless import GeneratedSDK, RequestPipeline

        from synapsekit_instrumentation_anthropic import _sdk_spans
        from synapsekit_instrumentation_anthropic._request import EndpointCache

        pipeline = RequestPipeline(
            GeneratedSDK(
                package="anthropic",
                routes=routes(),
                endpoint=EndpointCache().for_client,
                sdk_spans=_sdk_spans.SDK_SPANS,
            )
        )
        pipeline.install()
        self._pipeline = pipeline
        _sdk_spans.install_hook()

    def _uninstrument(self) -> None:
        from synapsekit_instrumentation_anthropic import _sdk_spans

        _sdk_spans.remove_hook()
        if self._pipeline is not None:
            self._pipeline.uninstall()
            self._pipeline = None

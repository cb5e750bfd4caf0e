"""``AnthropicInstrumentor``: the anthropic SDK instrumented at its request pipeline.

One patch per client kind — ``anthropic._base_client.SyncAPIClient.request`` and ``AsyncAPIClient.request``
— through which every request of every client passes (see ``synapsekit_instrumentation_openai.stainless``),
plus, on SDKs with their own tracing, the hook that lets synapsekit adopt the SDK's span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from synapsekit_instrumentation_openai.stainless import GeneratedSDK, Operation, RequestPipeline

from synapsekit.plugin import Instrumentor
from synapsekit_instrumentation_anthropic import _sdk_spans
from synapsekit_instrumentation_anthropic._messages import MESSAGES
from synapsekit_instrumentation_anthropic._request import EndpointCache

# The LLM calls among the Anthropic API's requests (``/v1/messages/count_tokens`` is not one).
ROUTES: Mapping[tuple[str, str], Operation] = {("post", "/v1/messages"): MESSAGES}


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
        pipeline = RequestPipeline(
            GeneratedSDK(
                package="anthropic",
                routes=ROUTES,
                endpoint=EndpointCache().for_client,
                sdk_spans=_sdk_spans.SDK_SPANS,
            )
        )
        pipeline.install()
        self._pipeline = pipeline
        _sdk_spans.install_hook()

    def _uninstrument(self) -> None:
        _sdk_spans.remove_hook()
        if self._pipeline is not None:
            self._pipeline.uninstall()
            self._pipeline = None

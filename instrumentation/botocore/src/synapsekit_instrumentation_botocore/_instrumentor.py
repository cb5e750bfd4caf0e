"""``BotocoreInstrumentor``: Amazon Bedrock's model calls, at botocore's one API-call method."""

from __future__ import annotations

from typing import Any, ClassVar

from synapsekit.plugin import Instrumentor, unwrap_method, wrap_method


class BotocoreInstrumentor(Instrumentor):
    """Counts every ``bedrock-runtime`` ``Converse``, ``ConverseStream``, ``InvokeModel`` and
    ``InvokeModelWithResponseStream`` request made through boto3 or botocore (provider ``aws.bedrock``).

    Patched once, at ``botocore.client.BaseClient._make_api_call``, which every client method of every
    service calls: clients created before instrumenting are covered, and other services' calls pass
    through after one dictionary lookup.
    """

    name: ClassVar[str] = "botocore"
    distribution: ClassVar[str] = "botocore"
    supported: ClassVar[str] = ">=1.34.116,<2"
    module: ClassVar[str] = "botocore.client"

    def __init__(self) -> None:
        super().__init__()
        self._owner: Any = None

    def _instrument(self, **options: Any) -> None:
        from botocore.client import BaseClient  # type: ignore[import-untyped]  # botocore ships no types

        # Imported here, not at module level: synapsekit.instrument() imports every installed instrumentor,
        # and the call machinery must not load for a client the application has not imported.
        from synapsekit_instrumentation_botocore._api_call import wrap_make_api_call

        if wrap_method(BaseClient, "_make_api_call", wrap_make_api_call):
            self._owner = BaseClient

    def _uninstrument(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            unwrap_method(owner, "_make_api_call")

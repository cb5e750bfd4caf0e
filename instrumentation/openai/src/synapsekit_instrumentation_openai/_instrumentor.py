"""``OpenAIInstrumentor``: patches the openai SDK's chat completions, Responses and embeddings methods.

Patched at the defining classes, sync and async: ``Completions.create``/``parse``
(``openai.resources.chat.completions.completions``), ``Responses.create``/``parse``
(``openai.resources.responses.responses``; ``responses.stream()`` goes through ``create``) and
``Embeddings.create`` (``openai.resources.embeddings``). Clients built before instrumenting are covered,
because their resources look the methods up on these classes. The ``with_raw_response`` /
``with_streaming_response`` views bind the method when first accessed on a resource: a view accessed before
instrumenting keeps calling the unpatched method.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

from synapsekit.plugin import Instrumentor, unwrap_method, wrap_method

from ._chat import CHAT
from ._embeddings import EMBEDDINGS
from ._operation import Operation
from ._provider import EndpointResolver
from ._responses import RESPONSES
from ._sdk import load_sdk
from ._wrappers import Runtime, async_wrapper, sync_wrapper

# (module, class, methods, operation, is_async)
_TARGETS: tuple[tuple[str, str, tuple[str, ...], Operation, bool], ...] = (
    ("openai.resources.chat.completions.completions", "Completions", ("create", "parse"), CHAT, False),
    ("openai.resources.chat.completions.completions", "AsyncCompletions", ("create", "parse"), CHAT, True),
    ("openai.resources.responses.responses", "Responses", ("create", "parse"), RESPONSES, False),
    ("openai.resources.responses.responses", "AsyncResponses", ("create", "parse"), RESPONSES, True),
    ("openai.resources.embeddings", "Embeddings", ("create",), EMBEDDINGS, False),
    ("openai.resources.embeddings", "AsyncEmbeddings", ("create",), EMBEDDINGS, True),
)


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
        self._patched: list[tuple[type[Any], str]] = []

    def _instrument(self, **options: Any) -> None:
        providers: Mapping[str, str] | None = options.get("providers")
        runtime = Runtime(
            sdk=load_sdk(),
            endpoints=EndpointResolver(providers),
            include_stream_usage=bool(options.get("include_stream_usage", True)),
        )
        for module_name, class_name, methods, operation, is_async in _TARGETS:
            owner = getattr(importlib.import_module(module_name), class_name)
            make = async_wrapper if is_async else sync_wrapper
            for method in methods:
                # Older SDKs lack some methods (parse); patch what this version defines.
                if method in owner.__dict__ and wrap_method(owner, method, make(operation, runtime)):
                    self._patched.append((owner, method))

    def _uninstrument(self) -> None:
        while self._patched:
            owner, method = self._patched.pop()
            unwrap_method(owner, method)

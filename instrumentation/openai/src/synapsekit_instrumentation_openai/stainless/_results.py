"""What ``request()`` returned: a parsed object, an SDK stream, a raw response wrapper, or a bare HTTP response.

Told apart by class, once per class, without importing anything: the SDK's stream classes are looked up in
``sys.modules`` (a stream cannot exist before its module was imported), the raw response wrappers and the HTTP
response by the module and name of a class in their hierarchy. Other layers' ``wrapt`` proxies report the
class of what they wrap, so they are told apart the same way.
"""

from __future__ import annotations

import sys
from typing import Any, Final

PARSED: Final = 0
STREAM: Final = 1
ASYNC_STREAM: Final = 2
RAW_RESPONSE: Final = (
    3  # LegacyAPIResponse / APIResponse / AsyncAPIResponse: the body is on ``.http_response``
)
HTTP_RESPONSE: Final = 4  # ``cast_to=httpx.Response``: the caller takes the HTTP response itself

_HTTP_RESPONSE_CLASSES: Final = frozenset({("httpx._models", "Response"), ("httpx2._models", "Response")})


class ResultKinds:
    """Classifies ``request()`` results of one SDK package (``openai``, ``anthropic``, ...)."""

    def __init__(self, package: str) -> None:
        self._streaming_module = f"{package}._streaming"
        self._raw_classes = frozenset(
            {
                (f"{package}._legacy_response", "LegacyAPIResponse"),
                (f"{package}._response", "BaseAPIResponse"),
            }
        )
        # Kinds by class, read in place by the pipeline. Written without a lock: two threads classifying one
        # class at once store the same answer.
        self.known: dict[type[Any], int] = {}

    def of(self, result: Any) -> int:
        cls = result.__class__
        kind = self.known.get(cls)
        if kind is None:
            kind = self.known[cls] = self._classify(cls)
        return kind

    def _classify(self, cls: type[Any]) -> int:
        streaming = sys.modules.get(self._streaming_module)
        if streaming is not None:
            if issubclass(cls, streaming.Stream):
                return STREAM
            if issubclass(cls, streaming.AsyncStream):
                return ASYNC_STREAM
        for base in cls.__mro__:
            name = (base.__module__, base.__name__)
            if name in self._raw_classes:
                return RAW_RESPONSE
            if name in _HTTP_RESPONSE_CLASSES:
                return HTTP_RESPONSE
        return PARSED

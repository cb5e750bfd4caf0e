"""What ``request()`` returned: a parsed object, an SDK stream, a raw response wrapper, or a bare HTTP response.

Told apart by class, once per class, without importing anything: the SDK's stream classes are looked up in
``sys.modules`` (a stream cannot exist before its module was imported), the raw response wrappers and the HTTP
response by the module and name of a class in their hierarchy. Other layers' ``wrapt`` proxies report the
class of what they wrap, so they are told apart the same way.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

PARSED: Final = 0
STREAM: Final = 1
ASYNC_STREAM: Final = 2
RAW_RESPONSE: Final = (
    3  # LegacyAPIResponse / APIResponse / AsyncAPIResponse: the body is on ``.http_response``
)
HTTP_RESPONSE: Final = 4  # ``cast_to=httpx.Response``: the caller takes the HTTP response itself

_HTTP_RESPONSE_CLASSES: Final = frozenset({("httpx._models", "Response"), ("httpx2._models", "Response")})


# The SDKs' own ``Stream.__iter__`` / ``AsyncStream.__aiter__``, written as they write them (not ``yield from``):
# what a stream class's method is compared with, by its compiled code.
def _relay(self: Any) -> Iterator[Any]:
    for item in self._iterator:  # noqa: UP028
        yield item


async def _async_relay(self: Any) -> AsyncIterator[Any]:
    async for item in self._iterator:
        yield item


def _is_relay(method: Any, reference: Any) -> bool:
    """Whether ``method`` is, instruction for instruction, ``reference``: it only hands on ``self._iterator``."""
    code, expected = getattr(method, "__code__", None), reference.__code__
    return (
        code is not None
        and code.co_code == expected.co_code
        and code.co_names == expected.co_names
        and code.co_varnames == expected.co_varnames
        and code.co_flags == expected.co_flags
    )


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
        self._relays: dict[type[Any], bool] = {}

    def of(self, result: Any) -> int:
        cls = result.__class__
        kind = self.known.get(cls)
        if kind is None:
            kind = self.known[cls] = self._classify(cls)
        return kind

    def own_iterator(self, stream: Any, is_async: bool) -> Any:
        """The generator an SDK stream's ``__iter__``/``__aiter__`` only relays (its ``_iterator``), or None.

        A stream proxy that draws from it directly skips one generator step per item; the items, their order
        and every exception are the same. Only when the class's method is exactly that relay (compared by
        its code: an SDK whose stream does more per item, such as anthropic's observer, keeps its own).
        """
        cls = stream.__class__
        relays = self._relays.get(cls)
        if relays is None:
            method = getattr(cls, "__aiter__" if is_async else "__iter__", None)
            relays = self._relays[cls] = _is_relay(method, _async_relay if is_async else _relay)
        if relays:
            iterator = getattr(stream, "_iterator", None)
            if iterator is not None and hasattr(iterator, "__anext__" if is_async else "__next__"):
                return iterator
        return None

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

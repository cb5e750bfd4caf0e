"""The spec's observability classes: thin facades over synapsekit's ambient instrumentation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synapsekit._lazy import lazy_getattr

_PUBLIC: dict[str, str] = {
    "BudgetExceeded": "synapsekit._exceptions",
    "TokenTracer": "synapsekit.observability._token_tracer",
}

__all__ = [
    "BudgetExceeded",
    "TokenTracer",
]

if TYPE_CHECKING:
    from synapsekit._exceptions import BudgetExceeded
    from synapsekit.observability._token_tracer import TokenTracer

__getattr__: Any = lazy_getattr(__name__, _PUBLIC, globals())


def __dir__() -> list[str]:
    return sorted(__all__)

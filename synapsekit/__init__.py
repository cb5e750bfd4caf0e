"""synapsekit: observability and spend control for Python LLM applications.

Everything public is importable from here (and the spec's facades from ``synapsekit.observability``). The
names are listed once, in ``__init__.pyi``; attributes load on first use, so ``import synapsekit`` imports
no LLM SDK, pydantic, pricing data, gRPC, prometheus-client or OpenTelemetry SDK. ``docs/architecture.md``
maps the packages behind them.
"""

from synapsekit._core.lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__, globals())

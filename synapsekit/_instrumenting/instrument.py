"""``synapsekit.instrument()`` / ``synapsekit.uninstrument()``: discovery and activation of instrumentors."""

from __future__ import annotations

import logging
import threading
from typing import Any

from synapsekit._core import config as _config, sinks as _sinks
from synapsekit._core.errors import report_internal_error
from synapsekit._instrumenting.distributions import entry_points
from synapsekit._instrumenting.instrumentor import InstrumentationError, Instrumentor
from synapsekit._pricing.preload import preload_prices

ENTRY_POINT_GROUP = "synapsekit.instrumentors"
logger = logging.getLogger("synapsekit")

_lock = threading.Lock()
_instrumentors: dict[str, Instrumentor] = {}
_attached_sinks: list[Any] = []


def available_instrumentors() -> dict[str, Instrumentor]:
    """Instrumentors registered under the entry-point group, by name (loaded once)."""
    with _lock:
        if not _instrumentors:
            for entry_point in entry_points(ENTRY_POINT_GROUP):
                try:
                    factory = entry_point.load()
                    instance = factory()
                except Exception as exc:
                    report_internal_error(f"entry_point:{entry_point.name}", exc)
                    continue
                _instrumentors[entry_point.name] = instance
        return dict(_instrumentors)


def register_instrumentor(name: str, instrumentor: Instrumentor) -> None:
    """Register an instrumentor without an entry point (for applications and tests)."""
    available_instrumentors()
    with _lock:
        _instrumentors[name] = instrumentor


def instrument(
    *clients: str,
    capture_content: bool | None = None,
    metrics: Any | None = None,
    sinks: tuple[Any, ...] = (),
) -> list[str]:
    """Instrument the LLM clients installed in this process; returns the names instrumented.

    With no names, every discovered instrumentor whose client is installed in a supported version is
    activated, and the others are skipped quietly. A client named explicitly that is missing or out of
    range raises :class:`InstrumentationError`. Repeated calls are no-ops. ``capture_content=True`` records
    prompts and completions on spans (off by default; also ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``).
    ``metrics`` (e.g. a ``PrometheusMetrics``) and ``sinks`` receive every finished LLM call.
    """
    if capture_content is not None:
        _config.set_capture_content(capture_content)
    for sink in (*(() if metrics is None else (metrics,)), *sinks):
        attach = getattr(sink, "attach", None)
        if callable(attach):
            attach()
        else:
            _sinks.add_sink(sink)
        _attached_sinks.append(sink)
    found = available_instrumentors()
    unknown = [name for name in clients if name not in found]
    if unknown:
        raise InstrumentationError(
            f"no synapsekit instrumentor for {', '.join(unknown)}; installed: {', '.join(sorted(found)) or 'none'}"
            f" (pip install synapsekit[{unknown[0]}])"
        )
    activated: list[str] = []
    for name, instrumentor in found.items():
        if clients and name not in clients:
            continue
        conflict = instrumentor.dependency_conflict()
        if conflict is not None:
            if clients:
                raise InstrumentationError(f"cannot instrument {name}: {conflict}")
            logger.debug("synapsekit: skipping %s: %s", name, conflict)
            continue
        instrumentor.instrument()
        activated.append(name)
    # Instrumented calls are priced by whatever reads their cost: have the price data ready before the first
    # request needs it, loaded off the request path. Started last: the load holds the GIL for long stretches
    # (unmarshalling the price tables), which would otherwise stretch the patching above several times over.
    preload_prices()
    return activated


def uninstrument(*clients: str) -> None:
    """Undo :func:`instrument` for the named clients (all when none are named), restoring them exactly."""
    for name, instrumentor in available_instrumentors().items():
        if not clients or name in clients:
            instrumentor.uninstrument()
    if not clients:
        while _attached_sinks:
            sink = _attached_sinks.pop()
            detach = getattr(sink, "detach", None)
            if callable(detach):
                detach()
            else:
                _sinks.remove_sink(sink)

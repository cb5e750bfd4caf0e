"""What reached the collector: spans and metric points exported and dropped, per OTelExporter installation.

The SDK's batch processor and metric reader answer ``force_flush()`` with ``True`` whatever their exports
returned, so a health check cannot see an outage through them. The counting wrappers of
:mod:`synapsekit._otel.pipeline` report every export's outcome here instead. Pure Python, no
OpenTelemetry import: ``OTelExporter.stats`` can be read without the SDK.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["ExportCounts", "OTelExportStats"]


@dataclass(frozen=True)
class OTelExportStats:
    """A snapshot of what one ``OTelExporter`` installation sent, as ``OTelExporter.stats`` returns it.

    ``spans_dropped`` counts the spans of exports the collector refused or did not answer in time; from
    shutdown on it also counts every span that was still waiting (in the queue, or in an export cut off by
    the shutdown deadline), so after shutdown ``spans_exported + spans_dropped`` is every sampled span that
    ended. ``metric_points_*`` count data points the same way. ``failed_exports`` counts export requests
    that did not succeed (each may carry many spans or points).
    """

    spans_exported: int = 0
    spans_dropped: int = 0
    metric_points_exported: int = 0
    metric_points_dropped: int = 0
    failed_exports: int = 0


class ExportCounts:
    """The live, lock-protected counters behind :class:`OTelExportStats`; frozen once at shutdown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans_ended = 0
        self._spans_exported = 0
        self._spans_failed = 0
        self._points_exported = 0
        self._points_failed = 0
        self._points_in_flight = 0
        self._failed_exports = 0
        self._final: OTelExportStats | None = None

    def span_ended(self) -> None:
        with self._lock:
            self._spans_ended += 1

    def span_export_finished(self, count: int, succeeded: bool) -> None:
        with self._lock:
            if self._final is not None:
                return  # after shutdown the books are closed: a late answer changes nothing reported
            if succeeded:
                self._spans_exported += count
            else:
                self._spans_failed += count
                self._failed_exports += 1

    def points_export_started(self, count: int) -> None:
        with self._lock:
            self._points_in_flight += count

    def points_export_finished(self, count: int, succeeded: bool) -> None:
        with self._lock:
            self._points_in_flight -= count
            if self._final is not None:
                return
            if succeeded:
                self._points_exported += count
            else:
                self._points_failed += count
                self._failed_exports += 1

    @property
    def failed_exports(self) -> int:
        with self._lock:
            return self._failed_exports

    def snapshot(self) -> OTelExportStats:
        with self._lock:
            if self._final is not None:
                return self._final
            return OTelExportStats(
                spans_exported=self._spans_exported,
                spans_dropped=self._spans_failed,
                metric_points_exported=self._points_exported,
                metric_points_dropped=self._points_failed,
                failed_exports=self._failed_exports,
            )

    def close(self) -> OTelExportStats:
        """Freeze the counts at shutdown: whatever has not been exported by now is dropped."""
        with self._lock:
            if self._final is None:
                self._final = OTelExportStats(
                    spans_exported=self._spans_exported,
                    spans_dropped=max(self._spans_ended - self._spans_exported, self._spans_failed),
                    metric_points_exported=self._points_exported,
                    metric_points_dropped=self._points_failed + self._points_in_flight,
                    failed_exports=self._failed_exports,
                )
            return self._final

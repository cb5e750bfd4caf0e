"""Label values for the Prometheus metrics, kept to a bounded set.

Every distinct label combination is a time series held in memory by the application and by Prometheus, so
label values come only from a closed vocabulary (provider, model, error class, budget name and window: all
chosen by the application's code, never by its users or their prompts) and each label is capped: once a
label has taken ``max_values`` distinct values, new ones are reported as ``"other"``.
"""

from __future__ import annotations

import functools
import threading
from typing import Final

from synapsekit._pricing.names import normalize_model_name

OVERFLOW_VALUE: Final = "other"
UNKNOWN_VALUE: Final = "unknown"
DEFAULT_MAX_LABEL_VALUES: Final = 100


@functools.lru_cache(maxsize=1024)
def model_label(model: str | None) -> str:
    """``gpt-4o-mini`` for ``GPT-4o-mini-2024-07-18``: dated snapshots of one model share a series."""
    if not model:
        return UNKNOWN_VALUE
    return normalize_model_name(model) or UNKNOWN_VALUE


def plain_label(value: str | None) -> str:
    if not value:
        return UNKNOWN_VALUE
    return value.strip().lower() or UNKNOWN_VALUE


class LabelLimiter:
    """Admits at most ``max_values`` distinct values per label name; later newcomers become ``"other"``."""

    def __init__(self, max_values: int = DEFAULT_MAX_LABEL_VALUES) -> None:
        if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 1:
            raise ValueError(f"max_label_values must be a positive integer, got {max_values!r}")
        self.max_values = max_values
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def limit(self, label: str, value: str) -> str:
        seen = self._seen.get(label)
        # Reading a set another thread may add to is safe; only admission needs the lock.
        if seen is not None and value in seen:
            return value
        with self._lock:
            seen = self._seen.setdefault(label, set())
            if value in seen:
                return value
            if len(seen) >= self.max_values:
                return OVERFLOW_VALUE
            seen.add(value)
            return value

    def values(self, label: str) -> frozenset[str]:
        """The values admitted so far for ``label`` (``"other"`` is never among them)."""
        with self._lock:
            return frozenset(self._seen.get(label, ()))

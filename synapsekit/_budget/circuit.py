"""The budget circuit breaker.

``CLOSED`` normally. ``OPEN`` once the budget's window is exhausted: calls are refused at once, with no
estimate, no ledger round trip and no provider call. When the window rolls over (a new calendar bucket)
the breaker is ``HALF_OPEN`` and lets exactly one call through as a probe, however many callers race for
it; a probe that ends within budget closes the breaker, one that exhausts the new window opens it again,
and one that fails for another reason (a provider error, a cancellation) frees the probe slot for the next
caller. A session window never rolls over, so an open session budget stays open.

Buckets are ISO-like strings (``"2025-03-14T09"``) that sort in time order, which lets a late report about
a past window be told apart from news about the current one.
"""

from __future__ import annotations

import enum
import threading


class CircuitState(enum.Enum):
    CLOSED = "closed"  # Normal operation
    OPEN = "open"  # Failing, rejecting calls
    HALF_OPEN = "half_open"  # Testing recovery


class Admission(enum.Enum):
    NORMAL = "normal"
    PROBE = "probe"
    REFUSE = "refuse"


class CircuitBreaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        # The window bucket the current state is about (None until the breaker first opens).
        self._bucket: str | None = None
        self._probe: object | None = None

    def state(self, bucket: str) -> CircuitState:
        with self._lock:
            self._roll_over(bucket)
            return self._state

    def enter(self, bucket: str, token: object) -> Admission:
        """Decide, before anything else is done, whether a call may go on to its reservation."""
        # Read without the lock: a closed breaker needs no roll-over, and a breaker opening concurrently
        # is no different from one that opens just after this call was admitted (the ledger still decides).
        state = self._state
        if state is CircuitState.CLOSED:
            return Admission.NORMAL
        with self._lock:
            self._roll_over(bucket)
            if self._state is CircuitState.CLOSED:
                return Admission.NORMAL
            if self._state is CircuitState.HALF_OPEN and self._probe is None:
                self._probe = token
                return Admission.PROBE
            return Admission.REFUSE

    def report(self, token: object, bucket: str, *, exhausted: bool, good: bool) -> None:
        """A call admitted with ``token`` in ``bucket`` ended or was refused by the ledger.

        ``exhausted``: the window's settled spend reached a limit. ``good``: the call completed normally.
        """
        if not exhausted and self._probe is not token:
            # Nothing changes (the common case, without the lock): only an exhausting report or the probe's
            # own report moves the state; the probe slot holds ``token`` only if this call was the probe.
            return
        with self._lock:
            was_probe = self._probe is not None and self._probe is token
            if was_probe:
                self._probe = None
            if exhausted and (self._bucket is None or bucket >= self._bucket):
                self._state = CircuitState.OPEN
                self._bucket = bucket
            elif was_probe and good:
                self._state = CircuitState.CLOSED

    def _roll_over(self, bucket: str) -> None:
        if self._state is CircuitState.OPEN and self._bucket is not None and bucket > self._bucket:
            self._state = CircuitState.HALF_OPEN
            self._bucket = bucket
            self._probe = None

"""The budget circuit breaker.

``CLOSED`` normally. ``OPEN`` once a call is refused because the window's *settled* spend plus that call's
worst case exceeds a limit, or once a call's settlement uses a limit up: calls are then refused at once, with
no estimate, no ledger round trip and no provider call. A refusal caused only by other callers' reservations
in flight does not open it — those may still be released. The breaker turns ``HALF_OPEN`` after a cooldown
(``circuit_cooldown_s``) or when the window rolls over (a new calendar bucket), whichever comes first, and
lets exactly one call through as a probe, however many callers race for it. A probe that ends within budget
closes the breaker; one the ledger refuses over settled spend, or one that uses the window up, opens it again
(for another cooldown); one that fails for another reason (a provider error, a cancellation, a refusal over
reservations in flight) frees the probe slot for the next caller.

Buckets are ISO-like strings (``"2025-03-14T09"``) that sort in time order, which lets a late report about
a past window be told apart from news about the current one. Times are epoch seconds from the budget's clock.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Callable


class CircuitState(enum.Enum):
    CLOSED = "closed"  # Normal operation
    OPEN = "open"  # Failing, rejecting calls
    HALF_OPEN = "half_open"  # Testing recovery


class Admission(enum.Enum):
    NORMAL = "normal"
    PROBE = "probe"
    REFUSE = "refuse"


class CircuitBreaker:
    def __init__(self, cooldown_s: float, now: Callable[[], float]) -> None:
        """``now``: epoch seconds, read only while the breaker is not closed (never on the common path)."""
        self._lock = threading.Lock()
        self._cooldown_s = cooldown_s
        self._now = now
        self._state = CircuitState.CLOSED
        # The window bucket the current state is about (None until the breaker first opens).
        self._bucket: str | None = None
        # When an open breaker turns half-open by itself (epoch seconds).
        self._half_open_at = math.inf
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

        ``exhausted``: the window's settled spend leaves no room for the call (it was refused over settled
        spend, or its settlement used a limit up). ``good``: the call completed normally.
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
                self._half_open_at = self._now() + self._cooldown_s
            elif was_probe and good:
                self._state = CircuitState.CLOSED
                self._half_open_at = math.inf

    def _roll_over(self, bucket: str) -> None:
        """Caller holds the lock. An open breaker half-opens in a new window or once its cooldown is over."""
        if self._state is not CircuitState.OPEN or self._bucket is None:
            return
        if bucket > self._bucket or self._now() >= self._half_open_at:
            self._state = CircuitState.HALF_OPEN
            self._bucket = max(bucket, self._bucket)
            self._half_open_at = math.inf
            self._probe = None

"""Budget windows as calendar buckets in UTC.

A bucket is a string naming the window a moment falls in (``"2025-03-14T09"`` for an hour); spend is kept
per bucket, so a window "resets" simply because a new moment falls in a new, empty bucket. The clock is
injectable so tests can cross a boundary without waiting for one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]

SESSION_BUCKET = "session"
# Ledgers keep a finished window's totals this long after it ends, for inspection, then drop them.
RETAIN_AFTER_END = timedelta(days=1)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """A clock may return naive datetimes; those are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def bucket_of(window: str, moment: datetime) -> str:
    if window == "session":
        return SESSION_BUCKET
    moment = as_utc(moment)
    if window == "hour":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}"
    if window == "day":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if window == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    raise ValueError(f"unknown window {window!r}")


def window_end(window: str, moment: datetime) -> datetime | None:
    """When the bucket holding ``moment`` ends; ``None`` for a session, which never rolls over."""
    if window == "session":
        return None
    moment = as_utc(moment)
    if window == "hour":
        return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if window == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    if window == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    raise ValueError(f"unknown window {window!r}")


def retain_until(window: str, moment: datetime) -> float | None:
    """Epoch seconds after which a ledger may forget the bucket holding ``moment`` (None: keep)."""
    end = window_end(window, moment)
    return None if end is None else (end + RETAIN_AFTER_END).timestamp()

"""Calendar buckets in UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from synapsekit._budget._windows import bucket_of, retain_until, window_end

AT = datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


def test_buckets() -> None:
    assert bucket_of("session", AT) == "session"
    assert bucket_of("hour", AT) == "2025-12-31T23"
    assert bucket_of("day", AT) == "2025-12-31"
    assert bucket_of("month", AT) == "2025-12"
    next_moment = AT + timedelta(microseconds=1)
    assert (
        bucket_of("hour", next_moment),
        bucket_of("day", next_moment),
        bucket_of("month", next_moment),
    ) == (
        "2026-01-01T00",
        "2026-01-01",
        "2026-01",
    )


def test_buckets_are_utc_whatever_the_clock_zone() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert bucket_of("day", datetime(2025, 3, 1, 8, 0, tzinfo=tokyo)) == "2025-02-28"
    # A naive datetime is taken to be UTC already.
    assert bucket_of("hour", datetime(2025, 3, 1, 8, 30)) == "2025-03-01T08"


def test_window_ends() -> None:
    assert window_end("session", AT) is None
    assert window_end("hour", AT) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert window_end("day", datetime(2024, 2, 28, 12, tzinfo=timezone.utc)) == datetime(
        2024, 2, 29, tzinfo=timezone.utc
    )
    assert window_end("month", AT) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert window_end("month", datetime(2024, 2, 10, tzinfo=timezone.utc)) == datetime(
        2024, 3, 1, tzinfo=timezone.utc
    )
    assert retain_until("session", AT) is None
    assert retain_until("day", AT) == datetime(2026, 1, 2, tzinfo=timezone.utc).timestamp()


def test_unknown_window() -> None:
    with pytest.raises(ValueError, match="unknown window 'week'"):
        bucket_of("week", AT)
    with pytest.raises(ValueError, match="unknown window 'week'"):
        window_end("week", AT)

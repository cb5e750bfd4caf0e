"""Calendar buckets in UTC."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

import pytest

from synapsekit._budget.scope import BudgetScope
from synapsekit._budget.windows import bucket_of, retain_until, window_end

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


@pytest.mark.parametrize(("window", "length_s"), [("hour", 3600), ("day", 86_400), ("month", 28 * 86_400)])
def test_the_default_clock_reuses_an_account_only_inside_its_window(
    monkeypatch: pytest.MonkeyPatch, window: str, length_s: int
) -> None:
    scope = BudgetScope(1.0, window=window)
    wall = time.time()
    account = scope._account_at(wall)
    assert account.bucket == bucket_of(window, datetime.now(timezone.utc))
    assert scope._current_account is not None
    _, starts, ends = scope._current_account
    # The cached span ends with the bucket and is shorter than any bucket of the window.
    end = window_end(window, datetime.fromtimestamp(wall, timezone.utc))
    assert end is not None
    assert (starts, ends) == (end.timestamp() - length_s, end.timestamp())
    recomputed: list[datetime] = []
    original = scope._account
    monkeypatch.setattr(scope, "_account", lambda now: recomputed.append(now) or original(now))
    for inside in (starts, ends - 0.001):
        assert scope._account_at(inside) is account
    assert recomputed == []
    scope._account_at(ends)  # the bucket may have ended: the calendar decides again
    scope._account_at(starts - 0.001)
    assert len(recomputed) == 2


def test_a_session_account_is_always_reused() -> None:
    scope = BudgetScope(1.0)
    account = scope._account_at(time.time())
    assert scope._current_account == (account, -math.inf, math.inf)
    assert scope._account_at(0.0) is account

"""Bad arguments are refused where they are written, with a message that says what is wrong."""

from __future__ import annotations

import math
from dataclasses import fields
from decimal import Decimal
from typing import Any

import pytest

from synapsekit import OfflineLLM
from synapsekit._budget import BudgetLimit, CircuitState, budget
from synapsekit.observability import BudgetGuard


def test_budget_limit_is_the_spec_dataclass() -> None:
    assert [(f.name, f.default) for f in fields(BudgetLimit)][1:] == [
        ("window", "session"),
        ("max_tokens", None),
    ]
    limit = BudgetLimit(max_cost_usd=1.00, window="day")
    assert (limit.max_cost_usd, limit.window, limit.max_tokens) == (1.00, "day", None)
    assert BudgetLimit(0.5, "month", 1000) == BudgetLimit(max_cost_usd=0.5, window="month", max_tokens=1000)
    assert BudgetLimit(0).max_cost_usd == 0


def test_circuit_state_is_the_spec_enum() -> None:
    assert [(state.name, state.value) for state in CircuitState] == [
        ("CLOSED", "closed"),
        ("OPEN", "open"),
        ("HALF_OPEN", "half_open"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"max_cost_usd": 1.0, "window": "week"},
            ValueError,
            "window must be one of 'session', 'hour', 'day', 'month'; got 'week'",
        ),
        ({"max_cost_usd": 1.0, "window": "Day"}, ValueError, "got 'Day'"),
        ({"max_cost_usd": -0.01}, ValueError, "max_cost_usd must be >= 0, got -0.01"),
        ({"max_cost_usd": math.nan}, ValueError, "max_cost_usd must be a finite number, got nan"),
        ({"max_cost_usd": math.inf}, ValueError, "max_cost_usd must be a finite number, got inf"),
        ({"max_cost_usd": Decimal("NaN")}, ValueError, "must be a finite number"),
        ({"max_cost_usd": "1.00"}, TypeError, "max_cost_usd must be a number of US dollars, got '1.00'"),
        ({"max_cost_usd": True}, TypeError, "max_cost_usd must be a number of US dollars, got True"),
        ({"max_cost_usd": 1.0, "max_tokens": -1}, ValueError, "max_tokens must be >= 0, got -1"),
        ({"max_cost_usd": 1.0, "max_tokens": 1.5}, TypeError, "max_tokens must be an int or None, got 1.5"),
    ],
)
def test_bad_limits_are_rejected_at_construction(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        BudgetLimit(**kwargs)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        budget(**kwargs)


def test_budget_limit_requires_a_cost() -> None:
    with pytest.raises(TypeError, match="max_cost_usd must be a number of US dollars, got None"):
        BudgetLimit(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "a budget needs a limit: give max_cost_usd, max_tokens or both"),
        (
            {"max_cost_usd": 1, "on_exceeded": "ignore"},
            ValueError,
            "on_exceeded must be one of 'raise', 'warn'; got 'ignore'",
        ),
        (
            {"max_cost_usd": 1, "on_ledger_error": "retry"},
            ValueError,
            "on_ledger_error must be one of 'fail_closed', 'fail_open'; got 'retry'",
        ),
        (
            {"max_cost_usd": 1, "default_max_output_tokens": 0},
            ValueError,
            "default_max_output_tokens must be >= 1",
        ),
        (
            {"max_cost_usd": 1, "reservation_ttl_s": 0},
            ValueError,
            "reservation_ttl_s must be a finite number of seconds > 0, got 0",
        ),
        (
            {"max_cost_usd": 1, "on_unknown_price": "ignore"},
            ValueError,
            "on_unknown_price must be one of 'admit', 'refuse'; got 'ignore'",
        ),
        ({"max_cost_usd": 1, "key": ""}, ValueError, "key must be a non-empty string, got ''"),
        (
            {"max_cost_usd": 1, "ledger": "postgres://db"},
            ValueError,
            "unsupported budget ledger 'postgres://db'",
        ),
        (
            {"max_cost_usd": 1, "ledger": "sqlite://relative.db"},
            ValueError,
            "a SQLite ledger URL looks like sqlite:///path/to/file.db",
        ),
    ],
)
def test_bad_budget_arguments_are_rejected(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        budget(**kwargs)


@pytest.mark.parametrize("parameter", ["reservation_ttl_s", "circuit_cooldown_s"])
@pytest.mark.parametrize(
    ("value", "error", "shown"),
    [
        (math.inf, ValueError, "inf"),
        (math.nan, ValueError, "nan"),
        (-1.0, ValueError, "-1.0"),
        (0, ValueError, "0"),
        ("60", TypeError, "'60'"),
        (None, TypeError, "None"),
        (True, TypeError, "True"),
        (Decimal("60"), TypeError, "Decimal('60')"),
    ],
)
def test_durations_must_be_finite_positive_seconds(
    parameter: str, value: object, error: type[Exception], shown: str
) -> None:
    expected = (
        f"{parameter} must be a finite number of seconds > 0, got {shown}"
        if error is ValueError
        else f"{parameter} must be a number of seconds, got {shown}"
    )
    pattern = expected.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(error, match=pattern):
        budget(max_cost_usd=1, **{parameter: value})
    with pytest.raises(error, match=pattern):
        BudgetGuard(OfflineLLM(), BudgetLimit(1.0), **{parameter: value})


def test_the_clock_must_be_callable() -> None:
    with pytest.raises(TypeError, match="clock must be a callable returning a datetime, got 'utc'"):
        budget(max_cost_usd=1, clock="utc")  # type: ignore[arg-type]


def test_durations_are_kept_as_given() -> None:
    scope = budget(max_cost_usd=1, reservation_ttl_s=30, circuit_cooldown_s=5)
    assert (scope.reservation_ttl_s, scope.circuit_cooldown_s) == (30.0, 5.0)
    assert (budget(max_cost_usd=1).circuit_cooldown_s, budget(max_cost_usd=1).on_unknown_price) == (
        60.0,
        "admit",
    )


def test_a_token_only_budget_is_allowed() -> None:
    scope = budget(max_tokens=100, name="tokens-only")
    assert (scope.limit_usd, scope.max_tokens, scope.remaining_usd) == (None, 100, None)
    assert repr(scope) == "BudgetScope('tokens-only', max_tokens=100, window='session')"


def test_budget_guard_rejects_bad_arguments() -> None:
    llm = OfflineLLM()
    with pytest.raises(TypeError, match=r"limit must be a BudgetLimit, got 1\.0"):
        BudgetGuard(llm, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_exceeded must be one of 'raise', 'warn'; got 'log'"):
        BudgetGuard(llm, BudgetLimit(1.0), on_exceeded="log")


def test_limits_keep_the_amount_written() -> None:
    assert budget(max_cost_usd=0.1).limit_usd == 0.1
    assert budget(max_cost_usd=Decimal("0.000000001")).limit_usd == 1e-9

"""spend_summary and render_report over a ledger filled by real calls through the core."""

from __future__ import annotations

import sqlite3
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from synapsekit import OfflineLLM, UnknownModelPriceWarning, set_price
from synapsekit._core import sinks as _sinks
from synapsekit._core.call import start_call
from synapsekit._pricing.prices import clear_price_overrides
from synapsekit._spend.ledger import SpendLedger, SpendLedgerError
from synapsekit._spend.report import format_usd, render_report, spend_summary

DAY = 86_400
NOW = time.time()
TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SpendLedger]:
    clear_price_overrides()
    # $2 / $8 per million tokens: 1,000 input + 500 output tokens cost exactly $0.006.
    set_price("acme-large", input_per_mtok="2", output_per_mtok="8", provider="acme")
    spend = SpendLedger(tmp_path / "spend.db")
    _sinks.add_sink(spend)
    yield spend
    spend.close()
    clear_price_overrides()


def _call(provider: str, model: str, *, days_ago: int, input_tokens: int, output_tokens: int) -> None:
    """One provider request through the core's lifecycle, dated ``days_ago`` days back."""
    call = start_call(provider, "chat", model)
    call.start_time = NOW - days_ago * DAY
    with call:
        call.record_usage(input_tokens=input_tokens, output_tokens=output_tokens)
    call.finish()


def _fill(ledger: SpendLedger) -> None:
    _call("acme", "acme-large", days_ago=0, input_tokens=1_000, output_tokens=500)  # $0.006
    _call("acme", "acme-large", days_ago=0, input_tokens=1_000, output_tokens=500)  # $0.006
    _call("acme", "acme-large", days_ago=1, input_tokens=1_000, output_tokens=500)  # $0.006
    _call("synapsekit", "synapsekit-offline", days_ago=1, input_tokens=20_000, output_tokens=5_000)  # $0.006
    _call("acme", "acme-large", days_ago=10, input_tokens=1_000, output_tokens=500)  # $0.006
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        _call("acme", "acme-mystery", days_ago=0, input_tokens=300, output_tokens=100)
        _call("acme", "acme-mystery", days_ago=1, input_tokens=300, output_tokens=100)
    ledger.flush()


def _render(path: Path, days: int | None = None) -> str:
    console = Console(record=True, width=100)
    render_report(path, days=days, console=console)
    return console.export_text()


async def test_summary_sums_exactly_by_model_provider_and_day(ledger: SpendLedger) -> None:
    _fill(ledger)
    await OfflineLLM().generate("Explain RAG in one sentence.")  # 5 + 12 tokens: $0.00000795
    ledger.flush()
    summary = spend_summary(ledger.path)
    total = summary.total
    assert (total.calls, total.input_tokens, total.output_tokens) == (8, 24_605, 7_212)
    assert total.cost_usd == Decimal("0.03000795")
    assert total.unknown_cost_calls == 2
    acme = summary.by_model[("acme", "acme-large")]
    assert (acme.calls, acme.input_tokens, acme.output_tokens, acme.cost_usd) == (
        4,
        4_000,
        2_000,
        Decimal("0.024"),
    )
    offline = summary.by_model[("synapsekit", "synapsekit-offline")]
    assert (offline.calls, offline.cost_usd) == (2, Decimal("0.00600795"))
    mystery = summary.by_model[("acme", "acme-mystery")]
    assert (mystery.calls, mystery.unknown_cost_calls, mystery.cost_usd) == (2, 2, Decimal(0))
    assert list(summary.by_model) == [
        ("acme", "acme-large"),
        ("synapsekit", "synapsekit-offline"),
        ("acme", "acme-mystery"),
    ]
    assert {name: t.cost_usd for name, t in summary.by_provider.items()} == {
        "acme": Decimal("0.024"),
        "synapsekit": Decimal("0.00600795"),
    }
    assert {day: (t.calls, t.cost_usd) for day, t in summary.by_day.items()} == {
        TODAY - timedelta(days=10): (1, Decimal("0.006")),
        TODAY - timedelta(days=1): (3, Decimal("0.012")),
        TODAY: (4, Decimal("0.01200795")),
    }


def test_days_keeps_only_recent_calendar_days(ledger: SpendLedger) -> None:
    _fill(ledger)
    summary = spend_summary(ledger.path, days=2)
    assert summary.since == TODAY - timedelta(days=1)
    assert list(summary.by_day) == [TODAY - timedelta(days=1), TODAY]
    assert (summary.total.calls, summary.total.cost_usd) == (6, Decimal("0.024"))
    today_only = spend_summary(ledger.path, days=1)
    assert (today_only.total.calls, today_only.total.cost_usd) == (3, Decimal("0.012"))
    with pytest.raises(ValueError, match="days must be a positive number of days, got 0"):
        spend_summary(ledger.path, days=0)


def test_rejected_and_failed_calls_are_counted_apart(ledger: SpendLedger) -> None:
    call = start_call("acme", "chat", "acme-large")
    call.rejected = True
    call.fail(RuntimeError("rejected by a budget"))
    failed = start_call("acme", "chat", "acme-large")
    failed.fail(ConnectionError("down"))
    ledger.flush()
    total = spend_summary(ledger.path).total
    assert (total.calls, total.rejected_calls, total.failed_calls, total.cost_usd) == (1, 1, 1, Decimal(0))
    text = _render(ledger.path)
    assert "1 (+1 rejected)" in text
    assert "1 request rejected by a budget before sending (no cost)." in text
    assert "1 failed call (counted above)." in text


def test_report_shows_tables_chart_and_flags_unknown_prices(ledger: SpendLedger) -> None:
    _fill(ledger)
    text = _render(ledger.path)
    words = " ".join(text.split())
    assert "Spend $0.0300 over 7 calls, 24,600 input + 7,200 output tokens — all time" in text
    lines = text.splitlines()

    def line_with(*parts: str) -> str:
        [line] = [line for line in lines if all(part in line for part in parts)]
        return line

    assert [cell.strip() for cell in line_with("acme-large", "acme").split("│")[1:8]] == [
        "acme-large",
        "acme",
        "4",
        "4,000",
        "2,000",
        "$0.0240",
        "80.0%",
    ]
    assert "$0.006000" in line_with("synapsekit-offline", "20,000")
    assert "20.0%" in line_with("synapsekit-offline", "20,000")
    assert [cell.strip() for cell in line_with("acme-mystery").split("│")[6:8]] == ["unknown", "—"]
    assert "By provider" in text
    assert "$0.0240 *" in line_with("│ acme ", "4,600")
    assert "$0.0120 *" in line_with("│ " + TODAY.isoformat(), "│     3 ")
    # The chart scales to the busiest day: 40 full blocks for $0.012, 20 for $0.006.
    assert line_with("│ " + TODAY.isoformat(), "█").count("█") == 40
    ten_days_ago = line_with("│ " + (TODAY - timedelta(days=10)).isoformat(), "█")
    assert ten_days_ago.count("█") == 20
    assert ten_days_ago.rstrip(" │").endswith("$0.006000")
    assert "* 2 calls with unknown price not included in the costs above" in words


def test_report_for_recent_days_draws_days_without_calls(ledger: SpendLedger) -> None:
    _call("acme", "acme-large", days_ago=2, input_tokens=1_000, output_tokens=500)
    ledger.flush()
    text = _render(ledger.path, days=3)
    assert "— last 3 days (UTC)" in text
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    [chart_row] = [line for line in text.splitlines() if line.startswith("│ " + yesterday)]
    assert chart_row.split() == ["│", yesterday, "$0.00", "│"]
    assert "unknown price" not in text
    assert "By provider" not in text


def test_missing_and_empty_ledgers_get_a_message(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    text = " ".join(_render(missing).split())
    assert f"No spend ledger at {missing} Record one with" in text
    assert "SYNAPSEKIT_SPEND_LEDGER" in text
    assert not missing.exists()
    with pytest.raises(FileNotFoundError, match="no spend ledger at"):
        spend_summary(missing)
    empty = tmp_path / "empty.db"
    SpendLedger(empty).close()
    assert spend_summary(empty).empty
    # rich wraps long paths; compare the words.
    assert f"No LLM calls recorded in {empty} (last 7 days (UTC))." == " ".join(
        _render(empty, days=7).split()
    )


def test_corrupt_or_foreign_files_raise_a_clear_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(SpendLedgerError, match=r"corrupt\.db: cannot read the spend ledger"):
        spend_summary(corrupt)
    with pytest.raises(SpendLedgerError, match=r"corrupt\.db: cannot read the spend ledger"):
        render_report(corrupt, console=Console(record=True, width=100))
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(SpendLedgerError, match="not a synapsekit spend ledger"):
        spend_summary(foreign)


def test_the_report_reads_while_a_ledger_is_writing(ledger: SpendLedger) -> None:
    _call("acme", "acme-large", days_ago=0, input_tokens=1_000, output_tokens=500)
    ledger.flush()
    first = spend_summary(ledger.path).total.calls
    _call("acme", "acme-large", days_ago=0, input_tokens=1_000, output_tokens=500)
    ledger.flush()
    assert (first, spend_summary(ledger.path).total.calls) == (1, 2)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "$0.00"),
        ("1234.5", "$1,234.50"),
        ("1.005", "$1.01"),
        ("0.12345", "$0.1235"),
        ("0.01", "$0.0100"),
        ("0.00000795", "$0.000008"),
        ("0.0000001", "$0.000000"),
    ],
)
def test_format_usd(amount: str, text: str) -> None:
    assert format_usd(Decimal(amount)) == text

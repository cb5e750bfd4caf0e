"""The spend report: what a :class:`~synapsekit._spend.ledger.SpendLedger` recorded, summed and drawn.

:func:`spend_summary` returns the numbers (exact ``Decimal`` costs); :func:`render_report` draws them with
rich — a table by model and provider, a table by day and a bar chart of cost per day. Calls whose price is
unknown are counted apart and flagged, never added as $0. ``synapsekit report`` calls :func:`render_report`.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from synapsekit._spend.ledger import SpendLedgerError, open_ledger

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

__all__ = ["SpendSummary", "SpendTotals", "format_usd", "render_report", "spend_summary"]

UNKNOWN_MODEL = "(unknown)"
_BAR_WIDTH = 40
_EIGHTHS = " ▏▎▍▌▋▊▉"
# Days without calls are drawn as empty rows only over short ranges; a year of blank lines helps nobody.
_MAX_FILLED_DAYS = 62


@dataclass
class SpendTotals:
    """Counts and sums over a set of ledger rows. ``calls`` excludes budget-rejected requests."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = field(default_factory=Decimal)
    unknown_cost_calls: int = 0
    estimated_calls: int = 0
    failed_calls: int = 0
    rejected_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: SpendTotals) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost_usd += other.cost_usd
        self.unknown_cost_calls += other.unknown_cost_calls
        self.estimated_calls += other.estimated_calls
        self.failed_calls += other.failed_calls
        self.rejected_calls += other.rejected_calls


@dataclass
class SpendSummary:
    """Spend recorded in a ledger, optionally limited to the last ``days`` calendar days (UTC)."""

    path: Path
    since: date | None
    total: SpendTotals
    by_model: dict[tuple[str, str], SpendTotals]
    """Keyed by ``(provider, model)``, most expensive first."""
    by_provider: dict[str, SpendTotals]
    """Most expensive first."""
    by_day: dict[date, SpendTotals]
    """Days with at least one recorded call, oldest first."""

    @property
    def empty(self) -> bool:
        return self.total.calls == 0 and self.total.rejected_calls == 0


class _DecimalSum:
    """SQLite aggregate summing decimal strings exactly (SQLite's own SUM would go through floats)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: object, /) -> None:
        if value is not None:
            self.total += Decimal(str(value))

    def finalize(self) -> str:
        return str(self.total)


_GROUPED = """
SELECT substr(ts, 1, 10) AS day, provider, COALESCE(model, ?) AS model_name,
       SUM(rejected = 0), SUM(input_tokens), SUM(output_tokens), SUM(cached_input_tokens),
       SUM(reasoning_tokens), decimal_sum(cost_usd),
       SUM(cost_usd IS NULL AND rejected = 0 AND input_tokens + output_tokens > 0),
       SUM(estimated <> 0 AND rejected = 0), SUM(error_type IS NOT NULL AND rejected = 0), SUM(rejected <> 0)
FROM calls
WHERE ts >= ?
GROUP BY day, provider, model_name
"""


def spend_summary(path: str | os.PathLike[str], days: int | None = None) -> SpendSummary:
    """Sum the ledger at ``path``; ``days=7`` keeps today and the six days before it (UTC).

    Raises :class:`FileNotFoundError` when there is no ledger at ``path`` and
    :class:`~synapsekit._spend.ledger.SpendLedgerError` when the file is not a readable spend ledger.
    """
    if days is not None and days <= 0:
        raise ValueError(f"days must be a positive number of days, got {days}")
    ledger_path = Path(path).expanduser()
    if not ledger_path.is_file():
        raise FileNotFoundError(f"no spend ledger at {ledger_path}")
    since = None if days is None else datetime.now(timezone.utc).date() - timedelta(days=days - 1)
    connection = open_ledger(ledger_path, create=False)
    try:
        # typeshed declares aggregates as int-only; SQLite returns whatever finalize() gives (here a str).
        connection.create_aggregate("decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]
        rows = connection.execute(_GROUPED, (UNKNOWN_MODEL, "" if since is None else since.isoformat()))
        groups = [
            (date.fromisoformat(day), provider, model, _totals(values))
            for day, provider, model, *values in rows
        ]
    except sqlite3.DatabaseError as exc:
        raise SpendLedgerError(f"{ledger_path}: cannot read the spend ledger: {exc}") from exc
    finally:
        connection.close()
    return _roll_up(ledger_path, since, groups)


def _totals(values: list[object]) -> SpendTotals:
    calls, inp, out, cached, reasoning, cost, unknown, estimated, failed, rejected = values
    return SpendTotals(
        calls=int(str(calls)),
        input_tokens=int(str(inp)),
        output_tokens=int(str(out)),
        cached_input_tokens=int(str(cached)),
        reasoning_tokens=int(str(reasoning)),
        cost_usd=Decimal(str(cost)),
        unknown_cost_calls=int(str(unknown)),
        estimated_calls=int(str(estimated)),
        failed_calls=int(str(failed)),
        rejected_calls=int(str(rejected)),
    )


def _roll_up(
    path: Path, since: date | None, groups: list[tuple[date, str, str, SpendTotals]]
) -> SpendSummary:
    total = SpendTotals()
    by_model: dict[tuple[str, str], SpendTotals] = {}
    by_provider: dict[str, SpendTotals] = {}
    by_day: dict[date, SpendTotals] = {}
    for day, provider, model, totals in groups:
        total.add(totals)
        by_model.setdefault((provider, model), SpendTotals()).add(totals)
        by_provider.setdefault(provider, SpendTotals()).add(totals)
        by_day.setdefault(day, SpendTotals()).add(totals)

    def by_cost(item: tuple[object, SpendTotals]) -> tuple[Decimal, int]:
        return (-item[1].cost_usd, -item[1].calls)

    return SpendSummary(
        path=path,
        since=since,
        total=total,
        by_model=dict(sorted(by_model.items(), key=lambda item: (*by_cost(item), item[0]))),
        by_provider=dict(sorted(by_provider.items(), key=lambda item: (*by_cost(item), item[0]))),
        by_day=dict(sorted(by_day.items())),
    )


# -- rendering ----------------------------------------------------------------------------------------------
def format_usd(amount: Decimal) -> str:
    """Dollars with the precision the amount needs: ``$1,234.50``, ``$0.1234``, ``$0.000042``, ``$0.00``."""
    if amount == 0:
        return "$0.00"
    magnitude = abs(amount)
    if magnitude >= 1:
        places = Decimal("0.01")
    elif magnitude >= Decimal("0.01"):
        places = Decimal("0.0001")
    else:
        places = Decimal("0.000001")
    return f"${amount.quantize(places, rounding=ROUND_HALF_UP):,}"


def render_report(
    path: str | os.PathLike[str], *, days: int | None = None, console: Console | None = None
) -> None:
    """Print the spend recorded in the ledger at ``path`` (the last ``days`` days when given).

    A missing or empty ledger prints a short explanation. A file that is not a spend ledger raises
    :class:`~synapsekit._spend.ledger.SpendLedgerError` with a message meant for the user.
    """
    from rich.console import Console

    out = console if console is not None else Console()
    period = "all time" if days is None else f"last {days} day{'s' if days != 1 else ''} (UTC)"
    try:
        summary = spend_summary(path, days)
    except FileNotFoundError:
        out.print(
            f"[bold]No spend ledger at {Path(path).expanduser()}[/bold]\n"
            "Record one with SYNAPSEKIT_SPEND_LEDGER=<path> (zero-code mode) or "
            "synapsekit.instrument(sinks=(SpendLedger(<path>),)), then run the report again.",
            highlight=False,
        )
        return
    if summary.empty:
        out.print(
            f"[bold]No LLM calls recorded[/bold] in {summary.path} ({period}).",
            highlight=False,
        )
        return
    for renderable in _report_renderables(summary, period):
        out.print(renderable)


def _report_renderables(summary: SpendSummary, period: str) -> list[RenderableType]:
    from rich.text import Text

    total = summary.total
    headline = Text.assemble(
        ("Spend ", "bold"),
        (format_usd(total.cost_usd), "bold green"),
        f" over {total.calls:,} call{'s' if total.calls != 1 else ''}, ",
        f"{total.input_tokens:,} input + {total.output_tokens:,} output tokens — {period}\n",
        (f"ledger: {summary.path}", "dim"),
    )
    parts: list[RenderableType] = [headline, _model_table(summary)]
    if len(summary.by_provider) > 1:
        parts.append(_provider_table(summary))
    parts += [_day_table(summary), _day_chart(summary)]
    notes = _notes(total)
    if notes is not None:
        parts.append(notes)
    return parts


def _share(totals: SpendTotals, total: Decimal) -> str:
    cost = totals.cost_usd
    if total == 0 or (totals.unknown_cost_calls and totals.unknown_cost_calls == totals.calls):
        return "—"
    return f"{(cost * 100 / total).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _cost_cell(totals: SpendTotals) -> str:
    if totals.unknown_cost_calls and totals.unknown_cost_calls == totals.calls:
        return "unknown"
    cost = format_usd(totals.cost_usd)
    return f"{cost} *" if totals.unknown_cost_calls else cost


def _table(title: str, first_columns: tuple[str, ...]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", title_style="bold")
    for name in first_columns:
        table.add_column(name)
    for name in ("Calls", "Input tokens", "Output tokens", "Cost (USD)"):
        table.add_column(name, justify="right")
    return table


def _model_table(summary: SpendSummary) -> Table:
    table = _table("By model", ("Model", "Provider"))
    table.add_column("Share", justify="right")
    for (provider, model), totals in summary.by_model.items():
        table.add_row(model, provider, *_numbers(totals), _share(totals, summary.total.cost_usd))
    return table


def _provider_table(summary: SpendSummary) -> Table:
    table = _table("By provider", ("Provider",))
    table.add_column("Share", justify="right")
    for provider, totals in summary.by_provider.items():
        table.add_row(provider, *_numbers(totals), _share(totals, summary.total.cost_usd))
    return table


def _day_table(summary: SpendSummary) -> Table:
    table = _table("By day (UTC)", ("Day",))
    for day, totals in summary.by_day.items():
        table.add_row(day.isoformat(), *_numbers(totals))
    return table


def _numbers(totals: SpendTotals) -> tuple[str, str, str, str]:
    calls = f"{totals.calls:,}"
    if totals.rejected_calls:
        calls += f" (+{totals.rejected_calls:,} rejected)"
    return calls, f"{totals.input_tokens:,}", f"{totals.output_tokens:,}", _cost_cell(totals)


def _bar(value: Decimal, maximum: Decimal, width: int) -> str:
    if maximum <= 0 or value <= 0:
        return ""
    eighths = int((value * width * 8 / maximum).to_integral_value(rounding=ROUND_HALF_UP))
    # A day with any spend gets at least a sliver, so it never looks like a day without calls.
    eighths = max(eighths, 1)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def _chart_days(summary: SpendSummary) -> list[tuple[date, Decimal]]:
    days = list(summary.by_day)
    first = summary.since if summary.since is not None else days[0]
    last = max(days[-1], datetime.now(timezone.utc).date()) if summary.since is not None else days[-1]
    if (last - first).days + 1 > _MAX_FILLED_DAYS:
        return [(day, totals.cost_usd) for day, totals in summary.by_day.items()]
    empty = SpendTotals()
    span = ((first + timedelta(days=offset)) for offset in range((last - first).days + 1))
    return [(day, summary.by_day.get(day, empty).cost_usd) for day in span]


def _day_chart(summary: SpendSummary) -> RenderableType:
    from rich.panel import Panel
    from rich.table import Table

    points = _chart_days(summary)
    maximum = max(cost for _, cost in points)
    chart = Table.grid(padding=(0, 1))
    chart.add_column(style="dim")
    chart.add_column(width=_BAR_WIDTH, no_wrap=True)
    chart.add_column(justify="right")
    for day, cost in points:
        chart.add_row(day.isoformat(), f"[cyan]{_bar(cost, maximum, _BAR_WIDTH)}[/cyan]", format_usd(cost))
    return Panel(chart, title="Cost per day (USD)", title_align="left", expand=False)


def _notes(total: SpendTotals) -> RenderableType | None:
    from rich.text import Text

    lines: list[tuple[str, str]] = []
    if total.unknown_cost_calls:
        plural = "s" if total.unknown_cost_calls != 1 else ""
        lines.append(
            (
                f"* {total.unknown_cost_calls:,} call{plural} with unknown price not included in the costs"
                " above (set a price with synapsekit.set_price or SYNAPSEKIT_PRICES_FILE).",
                "bold yellow",
            )
        )
    if total.estimated_calls:
        plural = "s" if total.estimated_calls != 1 else ""
        lines.append((f"{total.estimated_calls:,} call{plural} with estimated token counts.", "dim"))
    if total.failed_calls:
        plural = "s" if total.failed_calls != 1 else ""
        lines.append((f"{total.failed_calls:,} failed call{plural} (counted above).", "dim"))
    if total.rejected_calls:
        plural = "s" if total.rejected_calls != 1 else ""
        lines.append(
            (
                f"{total.rejected_calls:,} request{plural} rejected by a budget before sending (no cost).",
                "dim",
            )
        )
    if not lines:
        return None
    text = Text()
    for index, (line, style) in enumerate(lines):
        text.append(("\n" if index else "") + line, style=style)
    return text

"""Command-line entry points: ``synapsekit demo | report | serve`` and ``synapsekit-instrument``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence

from synapsekit._version import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synapsekit", description="Observability and spend control for LLM apps."
    )
    parser.add_argument("--version", action="version", version=f"synapsekit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="run the offline demo: a RAG session under a budget, fully observed"
    )
    demo.add_argument("--otlp", metavar="URL", help="also export spans and metrics to this OTLP endpoint")
    demo.add_argument("--questions", type=int, default=3, help="how many questions to ask (default 3)")

    report = commands.add_parser("report", help="spend by model, provider and day from a spend ledger")
    ledger_help = (
        "SQLite spend ledger (default: SYNAPSEKIT_SPEND_LEDGER or ~/.local/share/synapsekit/spend.db)"
    )
    # Positional (`synapsekit report spend.db`) as people type it, and --ledger, which scripts already use.
    report.add_argument("ledger_path", nargs="?", metavar="LEDGER", help=ledger_help)
    report.add_argument("--ledger", metavar="PATH", help="the same, as an option")
    report.add_argument("--days", type=int, default=None, help="only the last N days")

    serve = commands.add_parser("serve", help="serve the local OpenAI/Anthropic-compatible test server")
    serve.add_argument("--port", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "demo":
        from synapsekit.cli._demo import run_demo

        return run_demo(otlp_endpoint=args.otlp, questions=args.questions)
    if args.command == "report":
        from synapsekit._spend.ledger import default_ledger_path
        from synapsekit._spend.report import render_report

        days = args.days
        if days is not None and days <= 0:
            print("synapsekit report: --days must be a positive number", file=sys.stderr)
            return 2
        from synapsekit._spend.ledger import SpendLedgerError

        if args.ledger_path is not None and args.ledger is not None and args.ledger_path != args.ledger:
            print(
                f"synapsekit report: two ledgers given ({args.ledger_path} and --ledger {args.ledger}); give one",
                file=sys.stderr,
            )
            return 2
        path = (
            args.ledger_path
            or args.ledger
            or os.environ.get("SYNAPSEKIT_SPEND_LEDGER")
            or default_ledger_path()
        )
        try:
            render_report(path, days=days)
        except SpendLedgerError as exc:
            print(f"synapsekit report: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "serve":
        from synapsekit.testing.__main__ import main as serve_main

        return serve_main(["--port", str(args.port)])
    return 2  # pragma: no cover - argparse enforces the choices


USAGE = """usage: synapsekit-instrument COMMAND [ARGS...]

Run COMMAND (e.g. `python app.py`) with synapsekit instrumenting every supported LLM client in it, configured by
environment variables: SYNAPSEKIT_INSTRUMENT, SYNAPSEKIT_BUDGET_USD, SYNAPSEKIT_BUDGET_WINDOW,
SYNAPSEKIT_BUDGET_MAX_TOKENS, SYNAPSEKIT_BUDGET_ON_EXCEEDED, SYNAPSEKIT_SPEND_LEDGER, SYNAPSEKIT_PROMETHEUS_PORT,
SYNAPSEKIT_SUMMARY, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT.
"""


def instrument_main(argv: Sequence[str] | None = None) -> int:
    """``synapsekit-instrument python app.py``: like ``opentelemetry-instrument``, for LLM spend."""
    command = list(sys.argv[1:] if argv is None else argv)
    if not command or command[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr if not command else sys.stdout)
        return 0 if command else 2
    executable = shutil.which(command[0])
    if executable is None:
        print(f"synapsekit-instrument: command not found: {command[0]}", file=sys.stderr)
        return 127
    bootstrap = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")
    environment = dict(os.environ)
    path = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = bootstrap + (os.pathsep + path if path else "")
    os.execve(executable, command, environment)
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

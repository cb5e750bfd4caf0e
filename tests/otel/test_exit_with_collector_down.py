"""A process exporting to a dead collector exits within the shutdown deadline and says what it dropped.

Each case is a real interpreter exporting over real gRPC or HTTP to 127.0.0.1, where nothing answers: a
port that refuses connections, or a socket that accepts them (the kernel completes the handshake for the
listen backlog) and never says a word. The subprocess timeout is a correctness bound, not a benchmark:
with a 2 s deadline the process must be gone well before 12 s, whereas spans and metrics waiting out
their export timeouts one after the other took 13-21 s.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "_scripts" / "otel_scenarios.py"
REPO_ROOT = Path(__file__).resolve().parents[2]
EXIT_BOUND_S = 12  # far above the 2 s deadline plus interpreter start, far below the old 13-21 s


def _refusing_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield port  # bound and released: connecting to it is refused


def _silent_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)  # never accept(): connections complete, no byte ever comes back
        yield int(server.getsockname()[1])


@pytest.fixture(params=["refusing", "silent"])
def dead_port(request: pytest.FixtureRequest) -> Iterator[int]:
    yield from (_refusing_port() if request.param == "refusing" else _silent_port())


def _environment(extra: dict[str, str]) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "SYNAPSEKIT_"))
    }
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    environment.update(extra)
    return environment


def _our_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("OTelExporter shut down")]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_exit_with_the_collector_down_drops_and_says_so(dead_port: int, protocol: str) -> None:
    endpoint = f"http://127.0.0.1:{dead_port}"
    options = {
        "endpoint": endpoint,
        "flush": False,  # everything is still queued at exit: only the shutdown can try to send it
        "kwargs": {"insecure": True, "protocol": protocol, "shutdown_timeout_s": 2},
    }
    completed = subprocess.run(
        [sys.executable, str(SCENARIOS), "export", json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=EXIT_BOUND_S,
        env=_environment({}),
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["protocol"] == protocol
    # Two spans; two token-usage points (input, output) and two duration points (success, error).
    assert _our_lines(completed.stderr) == [
        f"OTelExporter shut down ({endpoint}, deadline 2s): dropped 2 spans and 4 metric points, "
        "exported 0 spans and 0 metric points"
    ]


def test_zero_code_mode_takes_its_deadline_from_the_environment(dead_port: int, tmp_path: Path) -> None:
    instrument = shutil.which("synapsekit-instrument", path=str(Path(sys.executable).parent))
    assert instrument is not None
    app = tmp_path / "app.py"
    app.write_text(
        "from opentelemetry import trace\n"
        "for name in ('load', 'answer', 'store'):\n"
        "    trace.get_tracer('app').start_span(name).end()\n"
    )
    endpoint = f"http://127.0.0.1:{dead_port}"
    completed = subprocess.run(
        [instrument, sys.executable, str(app)],
        capture_output=True,
        text=True,
        timeout=EXIT_BOUND_S,
        env=_environment(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S": "2",
                "SYNAPSEKIT_INSTRUMENT": "none",
            }
        ),
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    # No LLM call was made: no GenAI metric point exists to drop.
    assert _our_lines(completed.stderr) == [
        f"OTelExporter shut down ({endpoint}, deadline 2s): dropped 3 spans and 0 metric points, "
        "exported 0 spans and 0 metric points"
    ]


def test_zero_code_mode_with_a_bad_deadline_starts_uninstrumented_and_says_why(tmp_path: Path) -> None:
    instrument = shutil.which("synapsekit-instrument", path=str(Path(sys.executable).parent))
    assert instrument is not None
    app = tmp_path / "app.py"
    app.write_text("print('app ran')\n")
    completed = subprocess.run(
        [instrument, sys.executable, str(app)],
        capture_output=True,
        text=True,
        timeout=EXIT_BOUND_S,
        env=_environment(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
                "SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S": "soon",
                "SYNAPSEKIT_INSTRUMENT": "none",
            }
        ),
        check=False,
    )

    assert (completed.returncode, completed.stdout) == (0, "app ran\n")
    assert completed.stderr == (
        "synapsekit-instrument: not instrumenting: ValueError: SYNAPSEKIT_OTEL_SHUTDOWN_TIMEOUT_S must be a "
        "number of seconds > 0, got 'soon'\n"
    )

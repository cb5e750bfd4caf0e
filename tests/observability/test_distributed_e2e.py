"""Two real processes on 127.0.0.1 produce one trace: the server span's parent is the client span."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The services run as modules of the ``observability`` test package, from the ``tests`` directory.
TESTS_DIR = Path(__file__).parent.parent
SERVER = "observability._services.server_service"
CLIENT = "observability._services.client_service"


def _read_spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(propagation_format: str) -> tuple[str, Path]:
        spans_path = tmp_path / "server-spans.jsonl"
        process = subprocess.Popen(
            [sys.executable, "-m", SERVER, propagation_format, str(spans_path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=TESTS_DIR,
        )
        started.append(process)
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("PORT "), first_line
        return f"http://127.0.0.1:{int(first_line.split()[1])}", spans_path

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("propagation_format", "single_header", "transport", "expected_format"),
    [
        pytest.param("w3c", "1", "urllib", "w3c", id="w3c-urllib"),
        pytest.param("w3c", "1", "httpx2", "w3c", id="w3c-httpx2-hook"),
        pytest.param("b3", "1", "urllib", "b3", id="b3-single-urllib"),
        pytest.param("b3", "0", "httpx2", "b3", id="b3-multi-httpx2-hook"),
    ],
)
def test_one_trace_across_two_processes(
    tmp_path: Path,
    server_factory: Any,
    propagation_format: str,
    single_header: str,
    transport: str,
    expected_format: str,
) -> None:
    base_url, server_spans_path = server_factory(propagation_format)
    client_spans_path = tmp_path / "client-spans.jsonl"
    client = subprocess.run(
        [
            sys.executable,
            "-m",
            CLIENT,
            propagation_format,
            single_header,
            transport,
            f"{base_url}/work",
            str(client_spans_path),
        ],
        capture_output=True,
        text=True,
        cwd=TESTS_DIR,
        timeout=60,
        check=False,
    )
    assert client.returncode == 0, client.stderr
    with urllib.request.urlopen(f"{base_url}/shutdown", timeout=30) as response:
        assert json.load(response) == {"stopping": True}

    reported = json.loads(client.stdout)
    [client_span] = _read_spans(client_spans_path)
    [server_span] = _read_spans(server_spans_path)

    assert client_span == {
        "name": "call inventory",
        "kind": "CLIENT",
        "trace_id": reported["trace_id"],
        "span_id": reported["span_id"],
        "parent_span_id": None,
        "parent_is_remote": None,
        "status": "UNSET",
        "attributes": {"synapsekit.service.name": "storefront-service"},
        "service_name": "storefront-service",
    }
    assert server_span == {
        "name": "GET /work",
        "kind": "SERVER",
        "trace_id": client_span["trace_id"],
        "span_id": reported["reply"]["span_id"],
        "parent_span_id": client_span["span_id"],
        "parent_is_remote": True,
        "status": "UNSET",
        "attributes": {"synapsekit.service.name": "inventory-service", "items.count": 3},
        "service_name": "inventory-service",
    }
    assert reported["reply"]["parent"] == {
        "trace_id": client_span["trace_id"],
        "span_id": client_span["span_id"],
        "sampled": True,
        "format": expected_format,
        "tracestate": None,
        "baggage": {},
    }
    assert len(client_span["trace_id"]) == 32
    assert len(server_span["span_id"]) == 16

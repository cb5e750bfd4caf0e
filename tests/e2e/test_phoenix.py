"""End to end: OTelExporter sends spans to Arize Phoenix, a trace backend users run, and Phoenix's REST API
gives them back.

Phoenix lives in its own virtual environment (its dependencies are not ours); ``PHOENIX_PYTHON`` is that
environment's interpreter, e.g. ``/tmp/phoenix-venv/bin/python`` after
``uv venv /tmp/phoenix-venv && uv pip install --python /tmp/phoenix-venv arize-phoenix``.
The nox session ``e2e`` sets it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SCENARIOS = Path(__file__).resolve().parents[1] / "otel" / "_scripts" / "otel_scenarios.py"
PROJECT = "synapsekit-e2e"
STARTUP_TIMEOUT_S = 180.0  # first start runs Phoenix's database migrations (about 20 s)
INGEST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Phoenix:
    http_url: str
    grpc_url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    python = os.environ.get("PHOENIX_PYTHON")
    if not python:
        pytest.skip("PHOENIX_PYTHON is not set: it must name the interpreter of a venv with arize-phoenix")
    workdir = tmp_path_factory.mktemp("phoenix")
    http_port, grpc_port = _free_port(), _free_port()
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "PHOENIX_"))},
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
        "PHOENIX_LOGGING_LEVEL": "warning",
        "PHOENIX_DB_LOGGING_LEVEL": "warning",
    }
    log = workdir / "phoenix.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [python, "-m", "phoenix.server.main", "serve"],
            env=environment,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    phoenix = Phoenix(f"http://127.0.0.1:{http_port}", f"http://127.0.0.1:{grpc_port}", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(phoenix.http_url):
            if process.poll() is not None:
                pytest.fail(f"Phoenix exited with {process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"Phoenix not healthy after {STARTUP_TIMEOUT_S}s:\n{_tail(log)}")
            time.sleep(0.25)
        yield phoenix
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _export(endpoint: str, prefix: str, **kwargs: Any) -> dict[str, Any]:
    options = {"endpoint": endpoint, "prefix": prefix, "kwargs": {"export_metrics": False, **kwargs}}
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    # Phoenix files spans under the project this resource attribute names.
    environment["OTEL_RESOURCE_ATTRIBUTES"] = f"openinference.project.name={PROJECT}"
    completed = subprocess.run(
        [sys.executable, str(SCENARIOS), "named_spans", json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    report: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return report


def _spans_of_trace(phoenix: Phoenix, trace_id: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"trace_id": trace_id, "limit": 100})
    url = f"{phoenix.http_url}/v1/projects/{PROJECT}/spans?{query}"
    deadline = time.monotonic() + INGEST_TIMEOUT_S
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        # Phoenix ingests in the background: the project and spans appear shortly after the export.
        status, body = _get_json(url)
        if status == 200:
            spans = [span for span in body["data"] if span["context"]["trace_id"] == trace_id]
            if len(spans) >= 2:
                return spans
        time.sleep(0.5)
    raise AssertionError(f"Phoenix has {len(spans)} spans of trace {trace_id}:\n{_tail(phoenix.log)}")


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_phoenix_receives_the_span_tree(phoenix: Phoenix, transport: str) -> None:
    if transport == "grpc":
        report = _export(phoenix.grpc_url, f"e2e-{transport}", insecure=True, protocol="grpc")
    else:
        report = _export(f"{phoenix.http_url}/v1/traces", f"e2e-{transport}", insecure=True)
    assert report["flushed"] is True

    spans = {span["name"]: span for span in _spans_of_trace(phoenix, report["trace_id"])}

    assert sorted(spans) == [f"e2e-{transport}.child", f"e2e-{transport}.parent"]
    parent, child = spans[f"e2e-{transport}.parent"], spans[f"e2e-{transport}.child"]
    assert parent["context"]["span_id"] == report["parent_span_id"]
    assert parent["parent_id"] is None
    assert child["context"]["span_id"] == report["child_span_id"]
    assert child["parent_id"] == report["parent_span_id"]
    assert child["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert child["attributes"]["gen_ai.usage.input_tokens"] == 12

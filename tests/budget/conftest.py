"""Fixtures of the budget tests: a priced test model, a test server, a real Redis server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from synapsekit._budget import tokens as _tokens
from synapsekit._budget.ledger import LEDGER_ENV_VAR, close_shared_ledgers
from synapsekit._pricing.prices import clear_price_overrides, set_price
from synapsekit.testing import LLMTestServer

from ._support import MODEL, ServerLLM


@pytest.fixture(autouse=True)
def _isolated_budget_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv(LEDGER_ENV_VAR, raising=False)
    # An empty tiktoken cache: counts never depend on what this machine happens to have downloaded.
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    _tokens.clear_cache()
    set_price(MODEL, input_per_mtok="1", output_per_mtok="2")
    yield
    clear_price_overrides()
    close_shared_ledgers()
    _tokens.clear_cache()


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
async def llm(server: LLMTestServer) -> AsyncIterator[ServerLLM]:
    component = ServerLLM(server.openai_base_url)
    yield component
    await component.aclose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def _redis_server(directory: Path) -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 (Debian package ``redis-server``), without persistence."""
    executable = shutil.which("redis-server")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI: apt-get install -y redis-server")
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield RedisServer(f"redis://127.0.0.1:{port}/0", process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # in case a test left it stopped
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _redis_server(tmp_path_factory.mktemp("redis")) as running:
        yield running.url


@pytest.fixture
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop (SIGSTOP) without disturbing other tests."""
    with _redis_server(tmp_path_factory.mktemp("redis")) as running:
        yield running

"""A real Prometheus server (Debian package ``prometheus``) scrapes an application that made known LLM calls.

The values read back through Prometheus' HTTP query API must equal the expected totals, ``promtool check
metrics`` must accept the exposition, and every PromQL expression of the shipped Grafana dashboard must
return data.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from synapsekit._pricing.prices import clear_price_overrides
from synapsekit._prometheus.metrics import PrometheusMetrics

from ._prom_workers import (
    BATCH_OFFLINE_COST,
    BATCH_OFFLINE_INPUT_TOKENS,
    BATCH_OFFLINE_OK_CALLS,
    BATCH_OFFLINE_OUTPUT_TOKENS,
    BATCH_OFFLINE_STREAMS,
    BATCH_UNPRICED_TOKENS,
    BUDGET_LIMIT,
    BUDGET_NAME,
    ERROR_MODEL,
    OFFLINE_MODEL,
    OFFLINE_PROVIDER,
    UNPRICED_MODEL,
    UNPRICED_PROVIDER,
    dashboard_exprs,
    dashboard_variable_queries,
    load_dashboard,
    record_known_batch,
    set_offline_prices,
    substitute,
)

BATCHES = 2
WAIT_SECONDS = 60.0


def find_binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if path is None:
        reason = f"the {name!r} binary is missing: apt-get install prometheus (Debian package)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must install it")
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        payload = json.loads(http_get(f"{self.url}/api/v1/{path}?{query}"))
        assert payload["status"] == "success", payload
        return payload["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", (expr, data)
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def wait_for(self, description: str, condition: Callable[[], bool]) -> None:
        # A bounded wait for the next scrape, not a timing assertion: scrapes happen every second.
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"prometheus exited ({self.process.returncode}):\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {description}:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)


def start_prometheus(tmp: Path, target_port: int) -> PrometheusServer:
    binary = find_binary("prometheus")
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: synapsekit\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)

    def ready() -> bool:
        try:
            http_get(f"{server.url}/-/ready")
        except OSError:
            return False
        return True

    server.wait_for("prometheus to be ready", ready)
    return server


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Scraped:
    prometheus: PrometheusServer
    metrics: PrometheusMetrics


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    find_binary("prometheus")
    set_offline_prices()
    metrics = PrometheusMetrics(start_server=True, host="127.0.0.1", port=0)
    metrics.attach()
    prometheus: PrometheusServer | None = None
    try:
        spent = asyncio.run(record_known_batch(0.0))
        assert metrics.http_port is not None
        prometheus = start_prometheus(tmp_path_factory.mktemp("prometheus"), metrics.http_port)
        ok = f'{{model="{OFFLINE_MODEL}",outcome="ok"}}'
        prometheus.wait_for(
            "the first scrape",
            lambda: prometheus is not None and prometheus.value(f"synapsekit_requests_total{ok}") == 3,
        )
        # A second batch after the first scrape, so that rate() and histogram_quantile() see an increase.
        asyncio.run(record_known_batch(spent))
        prometheus.wait_for(
            "the scrape of the second batch",
            lambda: (
                prometheus is not None
                and prometheus.value('sum(synapsekit_requests_total{outcome="rejected"})') == BATCHES
            ),
        )
        # Every series must have been scraped after the second batch (one scrape reads the registry at once).
        prometheus.wait_for(
            "all series of the second batch",
            lambda: (
                prometheus is not None
                and prometheus.value(f"synapsekit_requests_total{ok}") == BATCHES * BATCH_OFFLINE_OK_CALLS
            ),
        )
        yield Scraped(prometheus, metrics)
    finally:
        if prometheus is not None:
            stop(prometheus.process)
        metrics.close()
        clear_price_overrides()


def offline(**labels: str) -> str:
    """A selector for the OfflineLLM series, with ``labels`` added."""
    pairs = {"model": OFFLINE_MODEL, "provider": OFFLINE_PROVIDER, **labels}
    return "{" + ",".join(f'{name}="{label}"' for name, label in pairs.items()) + "}"


def test_target_is_up(scraped: Scraped) -> None:
    assert scraped.prometheus.value('up{job="synapsekit"}') == 1.0


def test_totals_read_back_equal_expected(scraped: Scraped) -> None:
    value = scraped.prometheus.value
    assert value(f"synapsekit_cost_usd_total{offline()}") == BATCHES * BATCH_OFFLINE_COST
    assert value(f"synapsekit_tokens_total{offline()}") == BATCHES * (
        BATCH_OFFLINE_INPUT_TOKENS + BATCH_OFFLINE_OUTPUT_TOKENS
    )
    assert value(f"synapsekit_tokens_by_type_total{offline(type='input')}") == (
        BATCHES * BATCH_OFFLINE_INPUT_TOKENS
    )
    assert value(f"synapsekit_tokens_by_type_total{offline(type='output')}") == (
        BATCHES * BATCH_OFFLINE_OUTPUT_TOKENS
    )
    assert value(f"synapsekit_latency_seconds_count{offline()}") == BATCHES * BATCH_OFFLINE_OK_CALLS
    assert value(f"synapsekit_latency_seconds_bucket{offline(le='+Inf')}") == (
        BATCHES * BATCH_OFFLINE_OK_CALLS
    )
    assert (
        value(f"synapsekit_time_to_first_chunk_seconds_count{offline()}") == BATCHES * BATCH_OFFLINE_STREAMS
    )

    unpriced = f'{{model="{UNPRICED_MODEL}",provider="{UNPRICED_PROVIDER}"}}'
    assert value(f"synapsekit_unknown_cost_calls_total{unpriced}") == BATCHES
    assert value(f"synapsekit_tokens_total{unpriced}") == BATCHES * BATCH_UNPRICED_TOKENS
    assert value(f"synapsekit_cost_usd_total{unpriced}") is None

    failing = f'model="{ERROR_MODEL}",provider="openai"'
    assert value(f'synapsekit_requests_total{{{failing},outcome="error"}}') == BATCHES
    assert value(f'synapsekit_requests_total{{{failing},outcome="rejected"}}') == BATCHES
    assert value(f'synapsekit_errors_total{{{failing},error_type="TimeoutError"}}') == BATCHES

    assert value(f'synapsekit_budget_rejections_total{{budget="{BUDGET_NAME}"}}') == BATCHES
    assert value(f'synapsekit_budget_remaining_usd{{budget="{BUDGET_NAME}",window="day"}}') == (
        BUDGET_LIMIT - BATCHES * BATCH_OFFLINE_COST
    )
    assert value("sum(synapsekit_requests_total)") == BATCHES * (BATCH_OFFLINE_OK_CALLS + 3)


def test_promtool_accepts_the_exposition(scraped: Scraped) -> None:
    promtool = find_binary("promtool")
    assert scraped.metrics.http_port is not None
    exposition = http_get(f"http://127.0.0.1:{scraped.metrics.http_port}/metrics")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert checked.stdout.decode() + checked.stderr.decode() == ""


@pytest.mark.parametrize("expr", dashboard_exprs(load_dashboard()))
def test_every_dashboard_query_returns_data(scraped: Scraped, expr: str) -> None:
    result = scraped.prometheus.query(substitute(expr))
    assert result, f"no data for {expr}"
    for sample in result:
        assert math.isfinite(float(sample["value"][1])), (expr, sample)


@pytest.mark.parametrize("definition", dashboard_variable_queries(load_dashboard()))
def test_dashboard_variables_have_values(scraped: Scraped, definition: str) -> None:
    # Grafana runs label_values(<selector>, <label>) through the series API.
    inner = substitute(definition).removeprefix("label_values(").removesuffix(")")
    selector, label = (part.strip() for part in inner.rsplit(",", 1))
    values = scraped.prometheus.api(f"label/{label}/values", **{"match[]": selector})
    expected = {
        "provider": {OFFLINE_PROVIDER, UNPRICED_PROVIDER, "openai"},
        "model": {OFFLINE_MODEL, UNPRICED_MODEL, ERROR_MODEL},
    }
    assert set(values) == expected[label]

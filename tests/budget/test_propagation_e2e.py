"""A budget follows a request across services: three real processes sharing a real Redis.

The client (this test process) calls the api service, which opens ``budget(..., propagate=True)`` per request
and calls the tools service through an instrumented httpx2 client; the tools service, behind
``TraceContextMiddleware``, joins the incoming budget and calls the LLM with the real openai SDK against the
local test server. The negative cases send identities made here straight to the tools service.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import synapsekit
from synapsekit._budget import remote
from synapsekit.testing import LLMTestServer

from ._support import nano, usd

TESTS_DIR = Path(__file__).resolve().parent.parent
CALL = nano(3, 5)  # every call: 3 input tokens + max_tokens=5, reserved and charged exactly
SECRET = "shared-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
        return body.decode()


class Services:
    """Starts service processes; stops them all when closed."""

    def __init__(self, server: LLMTestServer) -> None:
        self.server = server
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, role: str, **config: Any) -> str:
        port = _free_port()
        options = {"role": role, "port": port, "openai_base_url": self.server.openai_base_url, **config}
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])),
        }
        for variable in ("SYNAPSEKIT_BUDGET_LEDGER", remote.LEDGERS_ENV_VAR, remote.SECRET_ENV_VAR):
            env.pop(variable, None)
        process = subprocess.Popen(
            [sys.executable, "-m", "budget._propagation_service", json.dumps(options)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/health")
                return base
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"the {role} service did not start: {stderr}")
                time.sleep(0.1)

    def close(self) -> None:
        for process in self.started:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)
            if process.stderr is not None:
                process.stderr.close()


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture(scope="module")
def services(llm_server: LLMTestServer) -> Iterator[Services]:
    running = Services(llm_server)
    yield running
    running.close()


@pytest.fixture(scope="module")
def signed_tools(services: Services, redis_url: str) -> str:
    """A tools service that requires identities signed with SECRET."""
    return services.start("tools", ledger=redis_url, secret=SECRET)


@pytest.fixture(scope="module")
def api(services: Services, redis_url: str, signed_tools: str) -> str:
    """The api service: a propagated budget per request, signed, calling the signed tools service."""
    return services.start("api", ledger=redis_url, secret=SECRET, redis_url=redis_url, tools_url=signed_tools)


@pytest.fixture(scope="module")
def plain_tools(services: Services, redis_url: str) -> str:
    """A tools service that accepts unsigned identities."""
    return services.start("tools", ledger=redis_url)


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    remote.clear_registry()
    yield
    remote.clear_registry()


def _request_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The TraceContextMiddleware spans of /work (FastAPI records spans of its own too)."""
    return [span for span in spans if "synapsekit.budget.join" in span["attributes"]]


def _spent_by_budget(metrics: str) -> dict[str, float]:
    prefix = 'synapsekit_budget_spent_usd_total{budget="'
    found: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith(prefix):
            labels, value = line[len(prefix) :].rsplit(" ", 1)
            found[labels.removesuffix('"}')] = float(value)
    return found


def _headers_for(identity: str) -> dict[str, str]:
    return {
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "baggage": f"{remote.BAGGAGE_KEY}={identity}",
    }


def _work(tools: str, calls: int, identity: str | None = None, **params: Any) -> Any:
    query = urllib.parse.urlencode({"calls": calls, **params})
    return _get(f"{tools}/work?{query}", _headers_for(identity) if identity else None)


def test_downstream_calls_are_charged_to_the_upstream_budget_and_refused_once_it_is_spent(
    llm_server: LLMTestServer, api: str, signed_tools: str
) -> None:
    spent_before = _spent_by_budget(_text(f"{signed_tools}/metrics")).get("user-request", 0.0)
    before = llm_server.request_count

    # Three calls fit in the budget; the fourth is refused in the tools service before it is sent.
    reply = _get(f"{api}/request?max_cost_usd={usd(3 * CALL + CALL // 2)}&calls=5")

    assert reply["tools"]["answered"] == 3
    refused = reply["tools"]["refused"]
    assert refused["type"] == "BudgetExceeded"
    assert refused["budget_name"] == "user-request"  # the originating budget, named downstream
    assert "budget 'user-request'" in refused["message"]
    assert reply["spent_usd"] == usd(3 * CALL)  # the originator sees the downstream spend
    assert llm_server.request_count - before == 3  # no provider request for the refused call

    # The tools service's request span carries the budget's identity; its LLM spans name the budget.
    spans = _get(f"{signed_tools}/spans")
    assert _request_spans(spans)[-1]["attributes"] == {
        "synapsekit.budget.id": reply["budget_id"],
        "synapsekit.budget.name": "user-request",
        "synapsekit.budget.join": "joined",
    }
    admitted = [span for span in spans if "synapsekit.budget.reserved_usd" in span["attributes"]]
    assert [span["attributes"]["synapsekit.budget.name"] for span in admitted[-3:]] == ["user-request"] * 3

    # Prometheus: spend by budget name, never by request or id.
    metrics = _text(f"{signed_tools}/metrics")
    assert _spent_by_budget(metrics)["user-request"] == pytest.approx(spent_before + usd(3 * CALL))
    assert reply["budget_id"] not in metrics


def test_a_propagated_budget_leaves_nothing_in_redis_forever(redis_url: str, signed_tools: str) -> None:
    import redis

    synapsekit.register_ledger("shared", redis_url, secret=SECRET)
    scope = synapsekit.budget(
        max_cost_usd=usd(CALL), ledger=redis_url, propagate=True, propagate_ttl_s=60, name="user-request"
    )
    assert scope.remote is not None
    assert _work(signed_tools, 1, scope.remote.wire_value)["answered"] == 1
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [*client.scan_iter(f"*{scope.key}*"), *client.scan_iter(f"*{scope.remote.budget_id}*")]
        # The account (written by the tools service) and the record, each expiring a day after the budget.
        assert len(keys) >= 2
        assert all(0 < client.ttl(key) <= 60 + 86_400 + 300 for key in keys)
    finally:
        client.close()


def test_concurrent_requests_each_keep_their_own_budget(
    llm_server: LLMTestServer, api: str, signed_tools: str
) -> None:
    before = llm_server.request_count

    def one(_: int) -> Any:
        return _get(f"{api}/request?max_cost_usd={usd(2 * CALL)}&calls=4")

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(one, range(6)))

    assert [reply["tools"]["answered"] for reply in replies] == [2] * 6
    assert all(reply["tools"]["refused"]["budget_name"] == "user-request" for reply in replies)
    assert [reply["spent_usd"] for reply in replies] == [usd(2 * CALL)] * 6
    assert len({reply["budget_id"] for reply in replies}) == 6
    assert llm_server.request_count - before == 12
    # Six budgets, one series: labelled by the budgets' name.
    assert set(_spent_by_budget(_text(f"{signed_tools}/metrics"))) == {"user-request"}


def _joins_nothing(llm_server: LLMTestServer, tools: str, identity: str, reason: str) -> None:
    refusals_before = _get(f"{tools}/refusals").get(reason, 0)
    before = llm_server.request_count
    # The identities below name $0 budgets (or none): joining nothing, both calls go through.
    assert _work(tools, 2, identity) == {"answered": 2, "refused": None}
    assert llm_server.request_count - before == 2
    assert _get(f"{tools}/refusals").get(reason, 0) == refusals_before + 1  # counted
    assert _request_spans(_get(f"{tools}/spans"))[-1]["attributes"]["synapsekit.budget.join"] == reason


def _zero_budget_identity(redis_url: str, **options: Any) -> str:
    scope = synapsekit.budget(max_cost_usd=0, ledger=redis_url, propagate=True, **options)
    assert scope.remote is not None
    return scope.remote.wire_value


def test_a_forged_identity_joins_nothing(llm_server: LLMTestServer, plain_tools: str) -> None:
    _joins_nothing(llm_server, plain_tools, remote.encode_identity("shared", "ab" * 16), "unknown_budget")


def test_a_forged_signature_joins_nothing(
    llm_server: LLMTestServer, redis_url: str, signed_tools: str
) -> None:
    synapsekit.register_ledger("shared", redis_url, secret="not-the-secret")
    _joins_nothing(llm_server, signed_tools, _zero_budget_identity(redis_url), "bad_signature")


def test_malformed_baggage_joins_nothing(llm_server: LLMTestServer, plain_tools: str) -> None:
    _joins_nothing(llm_server, plain_tools, "1.shared.not-an-id", "malformed")


def test_an_unknown_ledger_name_joins_nothing(
    llm_server: LLMTestServer, redis_url: str, plain_tools: str
) -> None:
    identity = _zero_budget_identity(redis_url, ledger_name="elsewhere")
    _joins_nothing(llm_server, plain_tools, identity, "unknown_ledger")


def test_an_unsigned_identity_joins_nothing_where_a_secret_is_required(
    llm_server: LLMTestServer, redis_url: str, signed_tools: str
) -> None:
    _joins_nothing(
        llm_server, signed_tools, _zero_budget_identity(redis_url, ledger_name="shared"), "unsigned"
    )


def test_an_expired_budget_joins_nothing(llm_server: LLMTestServer, redis_url: str, plain_tools: str) -> None:
    identity = _zero_budget_identity(redis_url, ledger_name="shared", propagate_ttl_s=0.2)
    time.sleep(0.3)
    _joins_nothing(llm_server, plain_tools, identity, "expired")


def test_a_signed_identity_joins(llm_server: LLMTestServer, redis_url: str, signed_tools: str) -> None:
    synapsekit.register_ledger("shared", redis_url, secret=SECRET)
    before = llm_server.request_count
    reply = _work(signed_tools, 2, _zero_budget_identity(redis_url))
    assert reply["answered"] == 0
    assert reply["refused"]["budget_name"] == "propagated"  # unnamed: one name for all, one metric series
    assert llm_server.request_count == before


def test_nested_local_budgets_still_apply(redis_url: str, plain_tools: str) -> None:
    scope = synapsekit.budget(
        max_cost_usd=usd(10 * CALL), ledger=redis_url, propagate=True, ledger_name="shared", name="upstream"
    )
    assert scope.remote is not None
    reply = _work(plain_tools, 5, scope.remote.wire_value, local_budget=usd(2 * CALL))
    assert reply["answered"] == 2
    assert reply["refused"]["budget_name"] == "tools-local"
    assert scope.spent_usd == usd(2 * CALL)


@pytest.mark.parametrize(("policy", "answered"), [("fail_closed", 0), ("fail_open", 2)])
def test_losing_redis_follows_on_ledger_error(
    llm_server: LLMTestServer, services: Services, private_redis: Any, policy: str, answered: int
) -> None:
    tools = services.start("tools", ledger=private_redis.url, on_ledger_error=policy)
    identity = _zero_budget_identity(private_redis.url, ledger_name="shared")
    before = llm_server.request_count
    private_redis.process.send_signal(signal.SIGSTOP)
    try:
        reply = _work(tools, 2, identity)
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
    assert reply["answered"] == answered
    assert llm_server.request_count - before == answered
    if policy == "fail_closed":
        assert reply["refused"]["type"] == "BudgetLedgerUnavailable"
    assert _get(f"{tools}/refusals") == {"ledger_unavailable": 1}

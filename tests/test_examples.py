"""Every script in examples/ runs against the local server, and what it prints is asserted exactly.

Token counts follow the test server's rules (one token per word of the messages; 12 output tokens unless
capped) and costs the bundled gpt-4o-mini price ($0.15 input, $0.60 output per 1M tokens).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapsekit.testing import SENTENCE, LLMTestServer, OTLPReceiver

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_example(
    name: str,
    server: LLMTestServer,
    *args: str,
    extra_env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OPENAI_BASE_URL": server.openai_base_url,
        "OPENAI_API_KEY": "sk-test",
        **(extra_env or {}),
    }
    command = [*(prefix or []), sys.executable, str(EXAMPLES / name), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.strip().splitlines()


def test_token_tracer(server: LLMTestServer) -> None:
    assert lines(run_example("token_tracer.py", server)) == [
        SENTENCE,
        "{'input': 5, 'output': 12, 'total': 17}",
    ]


def test_cost_tracker(server: LLMTestServer) -> None:
    # Each call: 2 input tokens ($0.0000003) + 12 output tokens ($0.0000072); ten calls: $0.000075.
    assert lines(run_example("cost_tracker.py", server)) == [
        "Total cost: $0.0001",
        "Last call: gpt-4o-mini 2 in / 12 out = $0.00000750",
    ]


def test_budget_guard(server: LLMTestServer) -> None:
    # Reservation per call: 3 estimated input tokens + 20 max output tokens = $0.00001245; a call is admitted
    # while spent + reservation <= $0.00005, so the 7th call (spent $0.000045) is refused before it is sent;
    # refused over settled spend, it opens the circuit.
    before = server.request_count
    output = lines(run_example("budget_guard.py", server))
    assert output == [
        "call 1: ok, spent $0.000008",
        "call 2: ok, spent $0.000015",
        "call 3: ok, spent $0.000023",
        "call 4: ok, spent $0.000030",
        "call 5: ok, spent $0.000037",
        "call 6: ok, spent $0.000045",
        "Budget exceeded: 0.0000 / 0.0001",
        "call 7: rejected before it was sent; circuit open",
    ]
    assert server.request_count - before == 6


def test_budget_scope_over_concurrent_tasks(server: LLMTestServer) -> None:
    before = server.request_count
    assert lines(run_example("budget_scope.py", server)) == [
        "3 answered, 17 rejected before they were sent",
        "first rejection: budget 'agent' (session), limit $0.000100",
        "3 calls reached the provider, cost $0.00002295",
        "budget spent $0.00002295, remaining $0.00007705",
    ]
    assert server.request_count - before == 3


def test_traced_pipeline(server: LLMTestServer) -> None:
    assert lines(run_example("traced_pipeline.py", server)) == [
        "rag.answer",
        "  retrieve",
        "  chat gpt-4o-mini (8 input tokens)",
    ]


@pytest.mark.parametrize(("propagation", "header"), [("w3c", "traceparent"), ("b3", "b3")])
def test_distributed_tracing(server: LLMTestServer, propagation: str, header: str) -> None:
    assert lines(run_example("distributed_tracing.py", server, propagation)) == [
        f"headers sent: ['{header}']",
        "same trace across the hop: True",
        "spans in the trace: ['chat gpt-4o-mini', 'frontend.request', 'rag.query']",
    ]


def test_prometheus_metrics(server: LLMTestServer) -> None:
    # "What is RAG?" 3 words, "Explain embeddings." 2, "What is an LLM?" 4 → 9 input + 36 output tokens.
    output = lines(
        run_example("prometheus_metrics.py", server, extra_env={"PROMETHEUS_PORT": str(_free_port())})
    )
    assert output == [
        "Total cost: $0.0000",
        'synapsekit_cost_usd_total{model="gpt-4o-mini",provider="openai"} 2.295e-05',
        'synapsekit_tokens_total{model="gpt-4o-mini",provider="openai"} 45.0',
    ]


def test_full_observability_setup_exports_the_trace(server: LLMTestServer) -> None:
    with OTLPReceiver() as receiver:
        output = lines(
            run_example("full_observability.py", server, extra_env={"OTLP_ENDPOINT": receiver.grpc_endpoint})
        )
        receiver.wait_for_spans(3)
        spans = {span.name: span for span in receiver.spans}
    assert output[0] == SENTENCE
    # The RAG prompt is 32 words: 32 input tokens ($0.0000048) + 12 output ($0.0000072).
    assert output[1] == "spent $0.000012 of $5.00 today; circuit closed"
    assert {"rag.aadd", "rag.aquery", "chat gpt-4o-mini"} <= set(spans)
    chat = spans["chat gpt-4o-mini"]
    assert chat.parent_span_id == spans["rag.aquery"].span_id
    assert chat.attributes["gen_ai.usage.input_tokens"] == 32
    assert chat.attributes["gen_ai.usage.cost"] == pytest.approx(0.000012)
    assert chat.resource_attributes["service.name"] == "synapsekit"


def test_zero_code_mode_gets_spans_costs_and_a_budget_from_the_environment(server: LLMTestServer) -> None:
    instrument = shutil.which("synapsekit-instrument", path=str(Path(sys.executable).parent))
    assert instrument is not None
    with OTLPReceiver() as receiver:
        result = run_example(
            "zero_code_app.py",
            server,
            prefix=[instrument],
            extra_env={
                "SYNAPSEKIT_BUDGET_USD": "0.0001",
                "SYNAPSEKIT_SUMMARY": "1",
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_SERVICE_NAME": "zero-code-app",
            },
        )
        receiver.wait_for_spans(10)
        spans = receiver.spans
    assert lines(result) == ["stopped after 9 answers: BudgetExceeded"]
    assert result.stderr.strip().splitlines()[-1] == (
        "synapsekit: 9 LLM calls, 29 input + 108 output tokens, $0.000069, 1 rejected by budget"
    )
    chat = [span for span in spans if span.name == "chat gpt-4o-mini"]
    assert len(chat) == 10
    assert sum(1 for span in chat if span.attributes.get("error.type") == "BudgetExceeded") == 1
    assert sum(span.attributes.get("gen_ai.usage.output_tokens", 0) for span in chat) == 108
    assert {span.resource_attributes["service.name"] for span in chat} == {"zero-code-app"}


def test_fastapi_service_continues_the_incoming_trace(server: LLMTestServer) -> None:
    port = _free_port()
    env = {**os.environ, "OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": "sk-test"}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "fastapi_service.py"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ask?q=what+is+tracing",
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        while True:
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert body == {
        "answer": SENTENCE,
        "trace_id": trace_id,
        "tokens": {"input": 3, "output": 12, "total": 15},
        "cost_usd": pytest.approx(3 * 0.15e-6 + 12 * 0.6e-6),
    }


def test_distributed_budget_follows_the_request_across_two_services(
    server: LLMTestServer, tmp_path: Path
) -> None:
    # The redis-server helper of the budget tests (tests/ is on sys.path: this module is not in a package).
    from budget.conftest import _redis_server

    with _redis_server(tmp_path) as redis:
        before = server.request_count
        result = run_example(
            "distributed_budget.py",
            server,
            extra_env={
                "LEDGER_URL": redis.url,
                "TOOLS_PORT": str(_free_port()),
                "API_PORT": str(_free_port()),
            },
        )
    # Per call: 3 input tokens + 20 max output reserved ($0.00001245), 3 + 12 charged ($0.00000765); the fifth
    # call (4 x $0.00000765 spent + $0.00001245) would exceed $0.00004: refused in the tools service, unsent.
    assert lines(result) == [
        "first request: 4 tool calls, then refused by 'user-request'",
        "first request: the api service sees $0.000031 spent of $0.000040",
        "second request: 4 tool calls, then refused by 'user-request'",
        "second request: the api service sees $0.000031 spent of $0.000040",
        "forged identity: joins nothing, refusals counted {'unsigned': 1}",
    ]
    assert server.request_count - before == 8 + 1  # the forged request's call went through, unbudgeted

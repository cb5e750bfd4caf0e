"""The three configurations the overhead is published for, and the canned OpenAI traffic they are measured on.

Shared by ``test_bench_configs.py`` (pytest-benchmark), ``callgrind/driver.py`` (instruction counts) and the
memory check, so all three measure exactly the same work.

Configurations (each against the uninstrumented ``baseline``, in the same process and run):

- ``accounting``: ``synapsekit.instrument("openai")`` and nothing else: no OpenTelemetry SDK, no sink. Calls
  are counted into an ``LLMCall``; the group's feature (a budget scope, a ``track()`` scope, an attached
  ``PrometheusMetrics``) is added on top for the budget / cost / metrics groups.
- ``full``: instrumented, an OpenTelemetry SDK ``TracerProvider`` with a ``BatchSpanProcessor`` exporting to
  an exporter that drops the spans (no network), a budget scope and an attached ``PrometheusMetrics``: every
  call is spanned, priced, admitted and settled against the budget, and recorded in metrics.
- ``disabled``: instrumented then uninstrumented, with ``PrometheusMetrics(enabled=False)`` attached and the
  group's scope entered: what an application pays for having synapsekit in it and switched off. For
  ``@traced``, which has no off switch of its own, "disabled" is an SDK tracer provider sampling nothing.

OpenTelemetry allows one global tracer provider per process, and synapsekit decides whether to build spans
from the *global* provider. So that ``nox -s bench`` stays one pytest process whose other modules measure "no
SDK", :func:`tracer_provider_installed` installs the provider for the duration of one configuration and then
restores the API's globals to "never set", the reset OpenTelemetry's own test utilities perform.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx2
import openai
from peers._dropping import DroppingSpanExporter, dropping_tracer_provider

import synapsekit

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from synapsekit._budget import BudgetScope
    from synapsekit._core.scope import Tally
    from synapsekit.observability import PrometheusMetrics

Configuration = Literal["baseline", "accounting", "full", "disabled"]
Feature = Literal["none", "budget", "budgets5", "budgets20", "cost", "metrics"]
# How many nested budget scopes each budget feature enters (all on the default memory ledger).
NESTED_BUDGETS: Final[dict[str, int]] = {"budget": 1, "budgets5": 5, "budgets20": 20}
CONFIGURATIONS: Final[tuple[Configuration, ...]] = ("baseline", "accounting", "full", "disabled")

MODEL: Final = "gpt-4o-mini"
# The stream scenario's content chunks: 50, or what ``bench/callgrind/run.py --stream-chunks`` asks for (its
# overhead at two lengths splits into a part per chunk and a part per stream).
STREAM_CHUNKS_VARIABLE: Final = "SYNAPSEKIT_BENCH_STREAM_CHUNKS"
STREAM_CHUNKS: Final = int(os.environ.get(STREAM_CHUNKS_VARIABLE, "50"))
COMPLETION_TOKENS: Final = 12
REQUEST: Final[dict[str, Any]] = {
    "model": MODEL,
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "one two three four five"}],
}
_USAGE: Final = {
    "prompt_tokens": 5,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": 5 + COMPLETION_TOKENS,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
# Prompt sizes (bytes of message text) for the input-estimate scenarios.
PROMPT_SIZES: Final[dict[str, int]] = {"prompt_1k": 1_024, "prompt_100k": 102_400, "prompt_1m": 1_048_576}


def request_with_prompt(size: int) -> dict[str, Any]:
    """``REQUEST`` with ``size`` characters of text, split over a system and a user message."""
    text = ("one two three four five six seven eight nine ten " * (size // 50 + 1))[:size]
    half = size // 2
    return {
        **REQUEST,
        "messages": [{"role": "system", "content": text[:half]}, {"role": "user", "content": text[half:]}],
    }


# A budget no benchmark can exhaust: admission and settlement run on every call, no call is refused.
_BUDGET_USD: Final = 1_000_000.0


def _completion_body() -> bytes:
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": "Hello there, this is a canned answer."},
        "finish_reason": "stop",
        "logprobs": None,
    }
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [choice],
        "usage": _USAGE,
    }
    return json.dumps(body).encode()


def _sse_chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> str:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": choices,
        "usage": usage,
    }
    return f"data: {json.dumps(body)}\n\n"


def _delta(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]


def _stream_bodies() -> tuple[bytes, bytes]:
    chunks = "".join(
        [
            _sse_chunk(_delta({"role": "assistant", "content": ""})),
            *(_sse_chunk(_delta({"content": " word"})) for _ in range(STREAM_CHUNKS)),
            _sse_chunk(_delta({}, "stop")),
        ]
    )
    stream_usage = {**_USAGE, "completion_tokens": STREAM_CHUNKS, "total_tokens": 5 + STREAM_CHUNKS}
    without_usage = (chunks + "data: [DONE]\n\n").encode()
    with_usage = (chunks + _sse_chunk([], stream_usage) + "data: [DONE]\n\n").encode()
    return without_usage, with_usage


COMPLETION_BODY: Final = _completion_body()
STREAM_BODY, STREAM_BODY_WITH_USAGE = _stream_bodies()
_JSON_HEADERS: Final = {"content-type": "application/json"}
_SSE_HEADERS: Final = {"content-type": "text/event-stream"}


def answer(request: httpx2.Request) -> httpx2.Response:
    """The canned API: a completion, or a 50-chunk stream with the usage chunk only when asked for."""
    body = json.loads(request.content)
    if body.get("stream"):
        with_usage = (body.get("stream_options") or {}).get("include_usage")
        return httpx2.Response(
            200, headers=_SSE_HEADERS, content=STREAM_BODY_WITH_USAGE if with_usage else STREAM_BODY
        )
    return httpx2.Response(200, headers=_JSON_HEADERS, content=COMPLETION_BODY)


def sync_client() -> openai.OpenAI:
    http_client = httpx2.Client(transport=httpx2.MockTransport(answer))
    return openai.OpenAI(
        api_key="bench", base_url="http://bench.invalid/v1", max_retries=0, http_client=http_client
    )


def async_client() -> openai.AsyncOpenAI:
    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    return openai.AsyncOpenAI(
        api_key="bench", base_url="http://bench.invalid/v1", max_retries=0, http_client=http_client
    )


# -- the measured operations ------------------------------------------------------------------------------
def create(client: openai.OpenAI, request: dict[str, Any] = REQUEST) -> int:
    """One non-streamed chat completion; returns its completion tokens (what the caller reads)."""
    usage = client.chat.completions.create(**request).usage
    return 0 if usage is None else usage.completion_tokens


def read_stream(client: openai.OpenAI) -> int:
    """One 50-chunk stream read to the end; returns the number of content chunks seen."""
    return sum(
        1
        for chunk in client.chat.completions.create(stream=True, **REQUEST)
        if chunk.choices and chunk.choices[0].delta.content == " word"
    )


def async_create_runner(client: openai.AsyncOpenAI) -> tuple[Callable[[], int], Callable[[], None]]:
    """A sync callable running one async completion on a private event loop, and the loop's closer."""
    loop = asyncio.new_event_loop()

    async def one() -> int:
        usage = (await client.chat.completions.create(**REQUEST)).usage
        return 0 if usage is None else usage.completion_tokens

    def run() -> int:
        return loop.run_until_complete(one())

    return run, loop.close


def plain_function(x: int) -> int:
    return x + 1


traced_function: Callable[[int], int] = synapsekit.traced(plain_function)


# -- tracing ------------------------------------------------------------------------------------------------
def sdk_tracer_provider(*, sampled: bool = True) -> tuple[TracerProvider, DroppingSpanExporter]:
    provider, exporter = dropping_tracer_provider(sampled=sampled)
    return provider, exporter


@contextmanager
def tracer_provider_installed(provider: TracerProvider) -> Iterator[None]:
    """``provider`` is the global tracer provider inside the block; outside, none was ever set."""
    from opentelemetry import trace
    from opentelemetry.util._once import Once

    previous = trace._TRACER_PROVIDER
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace.set_tracer_provider(provider)
    try:
        yield
    finally:
        provider.shutdown()
        trace._TRACER_PROVIDER = previous
        trace._TRACER_PROVIDER_SET_ONCE = Once()


# -- configurations -----------------------------------------------------------------------------------------
def warm_pricing() -> None:
    """Load the price data once per process, outside any measurement (later lookups hit a cache)."""
    synapsekit.compute_cost("openai", MODEL, input_tokens=1, output_tokens=1)


@dataclass
class Setup:
    """What a configuration put in place, for the benchmarks to check it did its work."""

    exporter: DroppingSpanExporter | None = None
    budget: BudgetScope | None = None
    tally: Tally | None = None
    metrics: PrometheusMetrics | None = None


def _feature_scope(feature: Feature, stack: ExitStack, setup: Setup) -> None:
    nested = NESTED_BUDGETS.get(feature, 0)
    for _ in range(nested):
        # The innermost is the one the benchmarks check; every one of them admits and settles each call.
        setup.budget = stack.enter_context(synapsekit.budget(max_cost_usd=_BUDGET_USD, window="day"))
    if nested:
        return
    if feature == "cost":
        setup.tally = stack.enter_context(synapsekit.track())


def _attach_metrics(stack: ExitStack, setup: Setup, *, enabled: bool) -> None:
    from synapsekit.observability import PrometheusMetrics

    metrics = setup.metrics = PrometheusMetrics(enabled=enabled)
    metrics.attach()
    stack.callback(metrics.close)


def wait_for_preloads() -> None:
    """Let the background loads the set-up started (price data, tokenizers) finish before measuring.

    Under callgrind the counters include every thread: a load still running in the measured phase would be
    counted as per-call work (and in wall-clock it competes for the interpreter).
    """
    from synapsekit._budget import tokens
    from synapsekit._pricing import preload as genai

    if genai._preload_started:
        genai._preloaded.wait()
    if tokens._preload_started:
        tokens._preloaded.wait()


@contextmanager
def configuration(name: Configuration, feature: Feature = "none") -> Iterator[Setup]:
    """Set the process up as ``name`` for the body of the block, and undo it all afterwards."""
    warm_pricing()
    setup = Setup()
    with ExitStack() as stack:
        if name in ("accounting", "full", "disabled"):
            synapsekit.instrument("openai")
            stack.callback(synapsekit.uninstrument, "openai")
        if name == "accounting":
            _feature_scope(feature, stack, setup)
            if feature == "metrics":
                _attach_metrics(stack, setup, enabled=True)
        elif name == "full":
            provider, setup.exporter = sdk_tracer_provider()
            stack.enter_context(tracer_provider_installed(provider))
            _attach_metrics(stack, setup, enabled=True)
            _feature_scope("budget", stack, setup)
            if feature == "cost":
                _feature_scope("cost", stack, setup)
        elif name == "disabled":
            synapsekit.uninstrument("openai")
            _attach_metrics(stack, setup, enabled=False)
            _feature_scope(feature, stack, setup)
        wait_for_preloads()
        yield setup


@contextmanager
def traced_configuration(name: Configuration) -> Iterator[Callable[[int], int]]:
    """The function ``@traced`` is measured on under ``name``: undecorated for the baseline."""
    if name == "baseline":
        yield plain_function
        return
    if name == "accounting":
        yield traced_function
        return
    provider, _ = sdk_tracer_provider(sampled=name == "full")
    with tracer_provider_installed(provider):
        yield traced_function


# -- memory -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryReport:
    """Python memory still held after ``calls`` calls that was allocated during them (after a warm-up)."""

    client: str
    configuration: str
    calls: int
    retained_bytes: int
    retained_blocks: int
    top_sites: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "configuration": self.configuration,
            "calls": self.calls,
            "retained_bytes": self.retained_bytes,
            "retained_blocks": self.retained_blocks,
            "retained_bytes_per_call": self.retained_bytes / self.calls,
            "top_sites": list(self.top_sites),
        }

    def __str__(self) -> str:
        sites = "".join(f"\n    {site}" for site in self.top_sites)
        return (
            f"{self.client}, {self.configuration}: {self.calls} calls, retained {self.retained_bytes} bytes in {self.retained_blocks}"
            f" blocks ({self.retained_bytes / self.calls:.4f} bytes/call); largest sites:{sites}"
        )


def _offline_caller() -> Callable[[], int]:
    from synapsekit import OfflineLLM

    llm = OfflineLLM()
    loop = asyncio.new_event_loop()

    def call() -> int:
        return len(loop.run_until_complete(llm.generate("one two three four five", max_tokens=12)))

    return call


def retained_growth(
    client: Literal["offline_llm", "openai_sdk"],
    calls: int,
    name: Configuration = "accounting",
    warmup: int = 2_000,
) -> MemoryReport:
    """Run ``calls`` calls in configuration ``name`` and measure what they left allocated.

    Tracing starts after a warm-up (caches, price table, the SDK's lazy imports), so what is still
    allocated at the end, after a full collection, is growth the calls retained.
    """
    import gc
    import tracemalloc

    with configuration(name):
        if client == "openai_sdk":
            sdk = sync_client()

            def call() -> int:
                return create(sdk)
        else:
            call = _offline_caller()
        for _ in range(warmup):
            call()
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for _ in range(calls):
                call()
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    # Snapshots themselves are allocated while tracing: leave tracemalloc's own frames out.
    ignore = tracemalloc.Filter(False, tracemalloc.__file__)
    diff = after.filter_traces([ignore]).compare_to(before.filter_traces([ignore]), "lineno")
    growth = [stat for stat in diff if stat.size_diff > 0]
    return MemoryReport(
        client=client,
        configuration=name,
        calls=calls,
        retained_bytes=sum(stat.size_diff for stat in diff),
        retained_blocks=sum(stat.count_diff for stat in diff),
        top_sites=tuple(str(stat) for stat in sorted(growth, key=lambda s: -s.size_diff)[:3]),
    )

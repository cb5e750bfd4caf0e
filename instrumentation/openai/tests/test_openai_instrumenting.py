"""Instrumenting: before or after import, after client construction, twice, undone exactly, concurrently."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import openai
import pytest
from openai import _base_client
from openai.types.chat import ChatCompletionMessageParam
from synapsekit_instrumentation_openai import OpenAIInstrumentor

import synapsekit
from conftest import RecordingSink, httpx_module
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import LLMTestServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three"}]
# Every request of every client passes through these two methods: they are all that is patched.
PATCHED = [(_base_client.SyncAPIClient, "request"), (_base_client.AsyncAPIClient, "request")]


def test_entry_point_resolves_to_the_instrumentor() -> None:
    from synapsekit._instrumenting.instrument import available_instrumentors

    assert isinstance(available_instrumentors()["openai"], OpenAIInstrumentor)


def test_uninstrument_restores_the_exact_original_functions() -> None:
    originals = [owner.__dict__[name] for owner, name in PATCHED]
    synapsekit.instrument("openai")
    try:
        assert all(is_synapsekit_wrapper(owner.__dict__[name]) for owner, name in PATCHED)
    finally:
        synapsekit.uninstrument("openai")
    assert all(
        owner.__dict__[name] is original for (owner, name), original in zip(PATCHED, originals, strict=True)
    )


def test_instrumenting_twice_counts_once(client: openai.OpenAI, sink: RecordingSink) -> None:
    synapsekit.instrument("openai")
    synapsekit.instrument("openai")
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        synapsekit.uninstrument("openai")
    assert len(sink.ended) == 1


def test_uninstrumented_sdk_reports_nothing(client: openai.OpenAI, sink: RecordingSink) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert sink.ended == []


def test_client_built_before_instrumenting_is_counted(server: LLMTestServer, sink: RecordingSink) -> None:
    early = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
    early.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    synapsekit.instrument("openai")
    try:
        early.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        early.embeddings.create(model="text-embedding-3-small", input="x")
    finally:
        synapsekit.uninstrument("openai")
        early.close()
    assert [call.operation for call in sink.ended] == ["chat", "embeddings"]


@pytest.mark.filterwarnings("ignore::synapsekit._pricing.prices.UnknownModelPriceWarning")
def test_instrumentor_options_name_the_provider(server: LLMTestServer, sink: RecordingSink) -> None:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(providers={f"127.0.0.1:{server.port}": "vllm"}, include_stream_usage=False)
    try:
        with openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0) as client:
            list(client.chat.completions.create(model="llama", messages=MESSAGES, stream=True))
    finally:
        instrumentor.uninstrument()
    call = sink.only
    assert call.provider == "vllm"
    assert call.usage_estimated is True  # include_stream_usage=False: no usage chunk was asked for
    assert "stream_options" not in server.requests[-1].json


_SCRIPT = """
import sys
import synapsekit
from synapsekit._core.errors import set_strict
set_strict(True)
{before}
import openai
{after}
assert "openai" in sys.modules
with synapsekit.track() as tally:
    client = openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "a b c"}}])
    list(client.responses.create(model="gpt-4.1-mini", input="a b", stream=True))
print(tally.calls, tally.input_tokens, tally.output_tokens)
"""


@pytest.mark.parametrize("when", ["before-import", "after-import"])
def test_instrument_before_or_after_importing_openai(server: LLMTestServer, when: str) -> None:
    instrument = 'synapsekit.instrument("openai")'
    before_import = when == "before-import"
    script = _SCRIPT.format(
        before=f'{instrument}\nassert "openai" not in sys.modules' if before_import else "",
        after="" if before_import else instrument,
        base_url=server.openai_base_url,
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYNAPSEKIT_STRICT": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "5", "24"]


async def test_two_hundred_concurrent_async_calls_are_counted_exactly(
    server: LLMTestServer, sink: RecordingSink
) -> None:
    # All 200 calls are in flight in synapsekit at once; the transport queues them on 16 connections
    # because the test server's listen backlog (socketserver's default, 5) refuses 200 simultaneous connects.
    async_client = openai.AsyncOpenAI(
        base_url=server.openai_base_url,
        api_key="k",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(limits=httpx_module().Limits(max_connections=16)),
    )
    synapsekit.instrument("openai")
    try:

        async def one(index: int) -> None:
            if index % 2:
                await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            else:
                stream = await async_client.chat.completions.create(
                    model="gpt-4o-mini", messages=MESSAGES, stream=True
                )
                async for _chunk in stream:
                    pass

        with synapsekit.track() as tally:
            await asyncio.gather(*(one(index) for index in range(200)))
    finally:
        synapsekit.uninstrument("openai")
        await async_client.close()
    assert (tally.calls, tally.input_tokens, tally.output_tokens, tally.estimated_calls) == (
        200,
        600,
        2400,
        0,
    )
    assert len(sink.ended) == 200


_IMPORTS_SCRIPT = """
import json, sys
{before}
import synapsekit
from synapsekit.plugin import is_synapsekit_wrapper
loaded = set(sys.modules)
synapsekit.instrument()
added = sorted(set(sys.modules) - loaded)
{after}
import openai._base_client as base
print(json.dumps({{
    "added": added,
    "openai": sorted(name for name in sys.modules if name == "openai" or name.startswith("openai.")),
    "patched": is_synapsekit_wrapper(vars(base.SyncAPIClient)["request"]),
}}))
"""


def _run(before: str, after: str) -> dict[str, Any]:
    script = _IMPORTS_SCRIPT.format(before=before, after=after)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _sdk_modules(names: list[str]) -> list[str]:
    return [name for name in names if name.split(".")[0] in ("openai", "anthropic", "httpx", "httpx2")]


def test_instrument_imports_nothing_of_an_imported_sdk() -> None:
    result = _run(before="import openai", after="")
    assert result["patched"] is True
    # Patched on the base client the application's `import openai` loaded: not one SDK module more (today's
    # openai.resources alone is hundreds), and nothing of instrumentors whose client is not imported.
    assert _sdk_modules(result["added"]) == []
    # Every other installed instrumentor (anthropic, botocore, cohere, ...) loads its class and nothing more.
    other_parts = {
        name.split(".", 1)[1]
        for name in result["added"]
        if name.startswith("synapsekit_instrumentation_")
        and not name.startswith("synapsekit_instrumentation_openai")
        and "." in name
    }
    assert other_parts <= {"_instrumentor"}
    # The call machinery (pricing tables, spans, scopes) loads with the first call, not with instrumenting.
    assert "synapsekit._core.call" not in result["added"]


def test_instrument_before_import_patches_at_import_and_imports_what_openai_does() -> None:
    instrumented = _run(before="", after="import openai")
    assert _sdk_modules(instrumented["added"]) == []  # nothing of openai before the application imports it
    assert instrumented["patched"] is True  # the post-import hook patched it when it was imported
    bare = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, openai._base_client\nprint(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    bare_openai = [name for name in json.loads(bare.stdout) if name == "openai" or name.startswith("openai.")]
    assert instrumented["openai"] == bare_openai


@pytest.mark.parametrize(
    ("version", "conflict"),
    [
        ("2.0.0", None),
        ("3.57.0", None),
        ("3", None),
        ("4.0.0", "openai 4.0.0 is installed; synapsekit supports >=2,<4"),
        ("1.99.9", "openai 1.99.9 is installed; synapsekit supports >=2,<4"),
        # Not plain releases: left to packaging, with PEP 440's rules for pre-releases and local versions.
        ("4.0.0rc1", "openai 4.0.0rc1 is installed; synapsekit supports >=2,<4"),
        ("3.1.0rc1", None),
        ("3.1.0+local.1", None),
        ("1.", "openai has an unparsable version '1.'"),
        ("not-a-version", "openai has an unparsable version 'not-a-version'"),
    ],
)
def test_the_supported_range_is_checked_from_the_version_string(version: str, conflict: str | None) -> None:
    class Pinned(OpenAIInstrumentor):
        def installed_version(self) -> str | None:
            return version

    assert Pinned().dependency_conflict() == conflict

"""Discovery, idempotence, exact restoration, and what an instrumentor bug must not break."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from typing import Any

import anthropic
import anthropic._base_client as base_client
import pytest
from _anthropic_testkit import RecordingSink, request
from synapsekit_instrumentation_anthropic import AnthropicInstrumentor
from synapsekit_instrumentation_anthropic._request import provider_name, server_of

import synapsekit
from synapsekit._instrumenting.instrument import available_instrumentors
from synapsekit.plugin import is_synapsekit_wrapper

# Every request of every client passes through these two methods: they are all that is patched.
PATCHED = [(base_client.SyncAPIClient, "request"), (base_client.AsyncAPIClient, "request")]


def originals() -> list[Any]:
    # anthropic < 1.17 has no span of its own to adopt, hence no hook.
    hook = getattr(base_client, "start_api_call_span", None)
    return [owner.__dict__[name] for owner, name in PATCHED] + ([hook] if hook is not None else [])


def test_registered_under_the_entry_point_group() -> None:
    [entry_point] = [
        ep
        for ep in importlib.metadata.entry_points(group="synapsekit.instrumentors")
        if ep.name == "anthropic"
    ]
    assert entry_point.load() is AnthropicInstrumentor
    found = available_instrumentors()["anthropic"]
    assert isinstance(found, AnthropicInstrumentor)
    assert (found.distribution, found.supported, found.module) == ("anthropic", ">=1,<3", "anthropic")
    assert found.dependency_conflict() is None


def test_instrument_then_uninstrument_restores_the_exact_originals() -> None:
    before = originals()
    assert not any(is_synapsekit_wrapper(obj) for obj in before)
    synapsekit.instrument("anthropic")
    synapsekit.instrument("anthropic")  # idempotent
    patched = originals()
    assert all(is_synapsekit_wrapper(obj) for obj in patched)
    synapsekit.uninstrument("anthropic")
    assert all(now is then for now, then in zip(originals(), before, strict=True))
    synapsekit.uninstrument("anthropic")
    assert all(now is then for now, then in zip(originals(), before, strict=True))


def test_uninstrumented_client_is_not_counted(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    synapsekit.instrument("anthropic")
    synapsekit.uninstrument("anthropic")
    client.messages.create(**request())
    assert sink.ended == []


def test_reinstrumenting_counts_again(client: anthropic.Anthropic, sink: RecordingSink) -> None:
    for _ in range(2):
        synapsekit.instrument("anthropic")
        client.messages.create(**request())
        synapsekit.uninstrument("anthropic")
    assert [call.output_tokens for call in sink.ended] == [12, 12]


def test_an_internal_failure_never_breaks_the_request_outside_strict_mode(
    client: anthropic.Anthropic, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapsekit_instrumentation_anthropic import _messages

    from synapsekit._core.errors import set_strict

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("synapsekit bug")

    monkeypatch.setattr(_messages.MessagesOperation, "describe", broken)
    set_strict(False)
    synapsekit.instrument("anthropic")
    try:
        message = client.messages.create(**request())
        with client.messages.stream(**request()) as stream:
            stream.until_done()
    finally:
        synapsekit.uninstrument("anthropic")
    assert message.usage.output_tokens == 12
    assert sink.ended == []


def test_provider_names_of_platform_clients() -> None:
    class AnthropicBedrock:
        pass

    class AsyncAnthropicVertex:
        pass

    class NewPlatform:
        _gen_ai_provider_name = "azure.ai.inference"

    assert provider_name(anthropic.Anthropic(api_key="k")) == "anthropic"
    assert provider_name(AnthropicBedrock()) == "aws.bedrock"
    assert provider_name(AsyncAnthropicVertex()) == "gcp.vertex_ai"
    assert provider_name(NewPlatform()) == "azure.ai.inference"
    assert provider_name(None) == "anthropic"


def test_server_address_defaults_the_port_by_scheme() -> None:
    assert server_of(anthropic.Anthropic(api_key="k")) == ("api.anthropic.com", 443)
    assert server_of(anthropic.Anthropic(api_key="k", base_url="http://gateway.internal")) == (
        "gateway.internal",
        80,
    )
    assert server_of(None) == (None, None)


def test_instrument_imports_nothing_of_an_imported_sdk() -> None:
    script = (
        "import json, sys, anthropic, synapsekit\n"
        "loaded = set(sys.modules)\n"
        "synapsekit.instrument('anthropic')\n"
        "from synapsekit.plugin import is_synapsekit_wrapper\n"
        "import anthropic._base_client as base\n"
        "print(json.dumps([sorted(set(sys.modules) - loaded), is_synapsekit_wrapper(vars(base.SyncAPIClient)['request'])]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    added, patched = json.loads(done.stdout)
    assert patched is True
    assert [name for name in added if name.split(".")[0] in ("anthropic", "openai", "httpx", "httpx2")] == []

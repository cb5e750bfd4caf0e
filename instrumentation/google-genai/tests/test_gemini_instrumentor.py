"""instrument() / uninstrument(): exact patches on the SDK's classes, idempotent, nothing left behind."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from _gemini_testkit import MODEL, PROMPT, generate
from google import genai
from google.genai.models import AsyncModels, Models
from synapsekit_instrumentation_google_genai import GoogleGenAIInstrumentor

import synapsekit
from synapsekit.plugin import is_synapsekit_wrapper
from synapsekit.testing import CallRecorder

PER_REQUEST = ["_generate_content", "_generate_content_stream"] + (
    ["_embed_content"] if "_embed_content" in vars(Models) else ["embed_content"]
)


@pytest.fixture
def originals() -> Iterator[dict[tuple[type, str], object]]:
    synapsekit.uninstrument("google-genai")
    yield {(owner, name): vars(owner)[name] for owner in (Models, AsyncModels) for name in PER_REQUEST}
    synapsekit.uninstrument("google-genai")


def test_patches_every_per_request_method_and_undoes_them_exactly(
    originals: dict[tuple[type, str], object],
) -> None:
    untouched = {name: value for name, value in vars(Models).items() if name not in PER_REQUEST}
    assert synapsekit.instrument("google-genai") == ["google-genai"]
    for (owner, name), original in originals.items():
        assert is_synapsekit_wrapper(vars(owner)[name]), (owner, name)
        assert vars(owner)[name] is not original
    # Nothing else is patched: the public methods call the per-request ones.
    assert {name: value for name, value in vars(Models).items() if name not in PER_REQUEST} == untouched
    assert synapsekit.instrument("google-genai") == ["google-genai"]  # a no-op the second time
    synapsekit.uninstrument("google-genai")
    for (owner, name), original in originals.items():
        assert vars(owner)[name] is original


def test_uninstrumented_calls_are_not_seen(
    originals: dict[tuple[type, str], object], client: genai.Client, sink: CallRecorder
) -> None:
    synapsekit.instrument("google-genai")
    generate(client, "generate")
    synapsekit.uninstrument("google-genai")
    generate(client, "generate")
    generate(client, "stream")
    client.models.embed_content(model="gemini-embedding-001", contents="one")
    assert len(sink.ended) == 1
    synapsekit.instrument("google-genai")
    generate(client, "stream")
    assert len(sink.ended) == 2


def test_clients_built_before_instrumenting_are_covered(
    originals: dict[tuple[type, str], object], client: genai.Client, sink: CallRecorder
) -> None:
    synapsekit.instrument("google-genai")
    client.models.generate_content(model=MODEL, contents=PROMPT)
    assert sink.only.provider == "gcp.gemini"


def test_declares_its_client_and_versions() -> None:
    instrumentor = GoogleGenAIInstrumentor()
    assert (instrumentor.name, instrumentor.distribution, instrumentor.module) == (
        "google-genai",
        "google-genai",
        "google.genai",
    )
    assert instrumentor.supported == ">=1,<4"
    assert instrumentor.dependency_conflict() is None


def test_an_internal_failure_never_breaks_the_call(
    client: genai.Client, sink: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapsekit_instrumentation_google_genai import _request

    from synapsekit._core.errors import set_strict

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("synapsekit bug")

    synapsekit.instrument("google-genai")
    monkeypatch.setattr(_request, "prompt_reader", broken)
    set_strict(False)
    try:
        assert generate(client, "generate") == generate(client, "stream") != ""
    finally:
        set_strict(True)
        synapsekit.uninstrument("google-genai")
    assert sink.ended == []


def test_instrumenting_before_the_sdk_is_imported_patches_it_on_import() -> None:
    # A fresh interpreter: the post-import hook patches google.genai when the application imports it.
    script = """
import sys
import synapsekit
from synapsekit.plugin import is_synapsekit_wrapper
assert synapsekit.instrument("google-genai") == ["google-genai"]
assert "google.genai" not in sys.modules
from google import genai
from google.genai.models import AsyncModels, Models
assert is_synapsekit_wrapper(vars(Models)["_generate_content"])
assert is_synapsekit_wrapper(vars(AsyncModels)["_generate_content_stream"])
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)

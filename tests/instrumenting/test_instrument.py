"""instrument()/uninstrument(): discovery, lazy patching, idempotency, exact restore, the error policy."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import synapsekit
from synapsekit._core.errors import set_strict
from synapsekit._instrumenting import instrument as _instrument
from synapsekit.plugin import Instrumentor, start_call, unwrap_method, wrap_method

CLIENT_SOURCE = textwrap.dedent(
    """
    class Client:
        def complete(self, prompt):
            return {"model": "fake-1", "usage": {"in": len(prompt.split()), "out": 2}, "text": "ok ok"}
    """
)


def extract_usage(response: dict[str, Any]) -> tuple[int, int]:
    return response["usage"]["in"], response["usage"]["out"]


class FakeInstrumentor(Instrumentor):
    name = "fakeclient"
    distribution = "fakeclient"
    supported = ">=1,<2"
    module = "fakeclient"
    version: str | None = "1.4.0"

    def installed_version(self) -> str | None:
        return self.version

    def _instrument(self, **options: Any) -> None:
        client_class = sys.modules["fakeclient"].Client

        def complete(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = start_call("fake", "chat", "fake-1")
            with call:
                response = wrapped(*args, **kwargs)
            try:
                input_tokens, output_tokens = extract_usage(response)
                call.record_usage(input_tokens=input_tokens, output_tokens=output_tokens)
            except Exception as exc:
                synapsekit.plugin.report_internal_error("fakeclient.extract", exc)
            call.finish()
            return response

        wrap_method(client_class, "complete", complete)

    def _uninstrument(self) -> None:
        unwrap_method(sys.modules["fakeclient"].Client, "complete")


@pytest.fixture
def fake_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeInstrumentor]:
    (tmp_path / "fakeclient.py").write_text(CLIENT_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fakeclient", None)
    instrumentor = FakeInstrumentor()
    _instrument.register_instrumentor("fakeclient", instrumentor)
    yield instrumentor
    synapsekit.uninstrument()  # also the real clients an auto-discovery test activated
    _instrument._instrumentors.pop("fakeclient", None)
    sys.modules.pop("fakeclient", None)


def _calls(client: Any) -> int:
    with synapsekit.track() as tally:
        client.complete("one two three")
    assert tally.calls in (0, 1)
    return tally.calls


def test_instrument_before_the_client_is_imported(fake_client: FakeInstrumentor) -> None:
    assert synapsekit.instrument("fakeclient") == ["fakeclient"]
    module = importlib.import_module("fakeclient")
    with synapsekit.track() as tally:
        module.Client().complete("one two three")
    assert tally.tokens == {"input": 3, "output": 2, "total": 5}


def test_instrument_after_import_twice_and_uninstrument_restores_exactly(
    fake_client: FakeInstrumentor,
) -> None:
    module = importlib.import_module("fakeclient")
    original = module.Client.__dict__["complete"]
    client = module.Client()
    synapsekit.instrument("fakeclient")
    synapsekit.instrument("fakeclient")
    assert module.Client.__dict__["complete"] is not original
    assert _calls(client) == 1
    synapsekit.uninstrument("fakeclient")
    assert module.Client.__dict__["complete"] is original
    assert _calls(client) == 0
    synapsekit.instrument("fakeclient")  # and again after an uninstrument
    assert _calls(client) == 1


def test_named_client_missing_or_out_of_range_is_a_clear_error(fake_client: FakeInstrumentor) -> None:
    with pytest.raises(synapsekit.InstrumentationError, match="no synapsekit instrumentor for nosuchclient"):
        synapsekit.instrument("nosuchclient")
    fake_client.version = "2.0.0"
    with pytest.raises(synapsekit.InstrumentationError, match=r"fakeclient 2\.0\.0 is installed; .*>=1,<2"):
        synapsekit.instrument("fakeclient")
    fake_client.version = None
    with pytest.raises(synapsekit.InstrumentationError, match="fakeclient is not installed"):
        synapsekit.instrument("fakeclient")


def test_auto_discovery_skips_unusable_clients_quietly(fake_client: FakeInstrumentor) -> None:
    fake_client.version = "0.9"
    activated = synapsekit.instrument()
    assert "fakeclient" not in activated
    assert not fake_client.is_instrumented


def test_exploding_extractor_never_breaks_the_users_call(
    fake_client: FakeInstrumentor, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("fakeclient")
    synapsekit.instrument("fakeclient")

    def explode(response: dict[str, Any]) -> tuple[int, int]:
        raise KeyError("usage")

    monkeypatch.setattr(sys.modules[__name__], "extract_usage", explode)
    with pytest.raises(KeyError):  # strict (the test suite): the bug surfaces
        module.Client().complete("a b")
    set_strict(False)
    try:
        assert module.Client().complete("a b")["text"] == "ok ok"
    finally:
        set_strict(True)


def test_exploding_instrument_hook_does_not_break_the_import(
    fake_client: FakeInstrumentor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**options: Any) -> None:
        raise RuntimeError("patch failed")

    monkeypatch.setattr(fake_client, "_instrument", broken)
    set_strict(False)
    try:
        synapsekit.instrument("fakeclient")
        module = importlib.import_module("fakeclient")
        assert module.Client().complete("x")["text"] == "ok ok"
    finally:
        set_strict(True)


def test_entry_points_of_the_workspace_instrumentors_are_discovered() -> None:
    found = _instrument.available_instrumentors()
    assert {"openai", "anthropic"} <= set(found)


def test_installed_versions_read_from_the_dist_info_folder_match_the_metadata() -> None:
    import importlib.metadata

    from synapsekit._instrumenting.instrumentor import _distribution_version

    for instrumentor in _instrument.available_instrumentors().values():
        try:
            expected: str | None = importlib.metadata.version(instrumentor.distribution)
        except importlib.metadata.PackageNotFoundError:
            expected = None
        assert instrumentor.installed_version() == expected, instrumentor.distribution
    assert _distribution_version("google-genai") == importlib.metadata.version(
        "google-genai"
    )  # a dash in the name
    assert _distribution_version("no-such-distribution-anywhere") is None

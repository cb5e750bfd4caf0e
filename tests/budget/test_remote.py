"""Propagated budgets within one process: the wire identity, signing, the registry, records and joining."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from opentelemetry import baggage as baggage_api, context as context_api

import synapsekit
from synapsekit import BudgetExceeded
from synapsekit._budget import remote
from synapsekit._budget.ledger import MemoryLedger
from synapsekit._core import context as core_context
from synapsekit._otel.budget_baggage import AmbientBudgetJoin
from synapsekit.observability import DistributedTracer, create_propagator

from ._support import ServerLLM, nano, prompt_of, usd

CALL = nano(3, 5)
ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    remote.clear_registry()
    yield
    remote.clear_registry()


@pytest.fixture
def ledger() -> MemoryLedger:
    shared = MemoryLedger()
    synapsekit.register_ledger("shared", shared)
    return shared


# -- the wire format ---------------------------------------------------------------------------------------


def test_an_identity_round_trips_unsigned_and_signed() -> None:
    assert remote.encode_identity("shared", ID) == f"1.shared.{ID}"
    assert remote.decode_identity(f"1.shared.{ID}") == remote.Identity("shared", ID, None)
    signed = remote.encode_identity("shared", ID, b"secret")
    decoded = remote.decode_identity(signed)
    assert decoded is not None and decoded.signature is not None and len(decoded.signature) == 64
    assert remote.signature_valid(decoded, b"secret")


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        b"1.shared." + ID.encode(),
        "",
        "1",
        f"2.shared.{ID}",
        f"1..{ID}",
        f"1.sh ared.{ID}",
        f"1.{'x' * 65}.{ID}",
        "1.shared.0123",
        f"1.shared.{ID.upper()}",
        f"1.shared.{ID}.",
        f"1.shared.{ID}.{'g' * 64}",
        f"1.shared.{ID}.{'a' * 63}",
        f"1.shared.{ID}.{'a' * 64}.extra",
        f"1.shäred.{ID}",
        "1.shared." + "a" * 10_000,
    ],
)
def test_malformed_values_decode_to_none_and_never_raise(value: object) -> None:
    assert remote.decode_identity(value) is None


def test_a_signature_binds_the_secret_the_ledger_name_and_the_id() -> None:
    signed = remote.decode_identity(remote.encode_identity("shared", ID, b"secret"))
    assert signed is not None
    assert not remote.signature_valid(signed, b"other secret")
    assert not remote.signature_valid(signed._replace(budget_id="f" * 32), b"secret")
    assert not remote.signature_valid(signed._replace(ledger_name="other"), b"secret")
    assert not remote.signature_valid(signed._replace(signature=None), b"secret")


def test_encoding_refuses_bad_names_and_ids() -> None:
    with pytest.raises(ValueError, match="ledger_name"):
        remote.encode_identity("has space", ID)
    with pytest.raises(ValueError, match="budget_id"):
        remote.encode_identity("shared", "xyz")


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not json",
        "[]",
        '{"v": 2}',
        '{"v": 1, "key": "k", "name": "n", "window": "year", "max_cost_nano": 1, "max_tokens": null,'
        ' "on_exceeded": "raise", "expires_at": 1}',
        '{"v": 1, "key": "k", "name": "n", "window": "day", "max_cost_nano": -1, "max_tokens": null,'
        ' "on_exceeded": "raise", "expires_at": 1}',
        '{"v": 1, "key": "k", "name": "n", "window": "day", "max_cost_nano": null, "max_tokens": null,'
        ' "on_exceeded": "raise", "expires_at": 1}',
        '{"v": 1, "key": "", "name": "n", "window": "day", "max_cost_nano": 1, "max_tokens": null,'
        ' "on_exceeded": "raise", "expires_at": 1}',
    ],
)
def test_a_record_that_cannot_be_right_is_none(payload: str) -> None:
    assert remote.BudgetRecord.loads(payload) is None


# -- the registry ------------------------------------------------------------------------------------------


def test_register_ledger_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="ledger name"):
        synapsekit.register_ledger("no/slashes", "memory")
    with pytest.raises(ValueError, match="on_ledger_error"):
        synapsekit.register_ledger("shared", "memory", on_ledger_error="ignore")
    with pytest.raises(ValueError, match="secret"):
        synapsekit.register_ledger("shared", "memory", secret="")
    with pytest.raises(TypeError, match="ledger"):
        synapsekit.register_ledger("shared", object())  # type: ignore[arg-type]


def test_ledgers_and_the_secret_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(remote.LEDGERS_ENV_VAR, "shared=memory, broken, bad name=memory")
    monkeypatch.setenv(remote.SECRET_ENV_VAR, "from-env")
    with caplog.at_level(logging.WARNING, logger="synapsekit.budget"):
        entry = remote.registration("shared")
    assert entry is not None and entry.secret == b"from-env"
    assert entry.ledger is synapsekit._budget.ledger_from_url("memory")
    assert remote.registration("bad name") is None
    assert len([r for r in caplog.records if remote.LEDGERS_ENV_VAR in r.getMessage()]) == 2


# -- the originator ----------------------------------------------------------------------------------------


def test_budget_arguments_for_propagation_are_checked(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="propagate"):
        synapsekit.budget(max_cost_usd=1, propagate="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="propagate=True"):
        synapsekit.budget(max_cost_usd=1, ledger_name="shared")
    with pytest.raises(ValueError, match="Redis"):
        synapsekit.budget(max_cost_usd=1, ledger=f"sqlite:///{tmp_path / 'b.db'}", propagate=True)
    with pytest.raises(ValueError, match="propagate_ttl_s"):
        synapsekit.budget(max_cost_usd=1, ledger="memory", propagate=True, propagate_ttl_s=0)
    with pytest.raises(ValueError, match="ledger_name"):
        synapsekit.budget(max_cost_usd=1, ledger="memory", propagate=True, ledger_name="a.b")


def test_the_ledger_name_defaults_to_the_registered_one_else_default(ledger: MemoryLedger) -> None:
    registered = synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True)
    unregistered = synapsekit.budget(max_cost_usd=1, ledger=MemoryLedger(), propagate=True)
    assert registered.remote is not None and registered.remote.ledger_name == "shared"
    assert unregistered.remote is not None and unregistered.remote.ledger_name == "default"
    assert synapsekit.budget(max_cost_usd=1, ledger=ledger).remote is None


def test_the_wire_never_carries_the_ledger_url(ledger: MemoryLedger) -> None:
    tracer = DistributedTracer("svc")
    scope = synapsekit.budget(max_cost_usd=1, ledger="redis://user:pw@127.0.0.1:1/0", propagate=True)
    assert scope.remote is not None and not scope.remote.written  # nothing listens there
    with scope, tracer.start_span("out"):
        headers = tracer.inject_context({})
    assert "baggage" not in headers  # no record, no identity: a receiver could not join it anyway
    with synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True) as shared, tracer.start_span("out"):
        headers = tracer.inject_context({})
    assert shared.remote is not None
    assert headers["baggage"] == f"synapsekit.budget={shared.remote.wire_value}"
    assert "memory" not in headers["baggage"] and "redis" not in headers["baggage"]


def test_every_propagator_carries_the_identity(ledger: MemoryLedger) -> None:
    tracer = DistributedTracer("svc")
    captured: list[str | None] = []
    client = tracer.instrument_http_client(
        httpx2.Client(
            transport=httpx2.MockTransport(
                lambda request: captured.append(request.headers.get("baggage")) or httpx2.Response(200)
            )
        )
    )
    scope = synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True)
    assert scope.remote is not None
    expected = f"synapsekit.budget={scope.remote.wire_value}"
    with scope, tracer.start_span("out"):
        carrier: dict[str, str] = {}
        create_propagator("w3c").inject(carrier)
        client.get("http://127.0.0.1:9/")
    assert carrier["baggage"] == expected
    assert captured == [expected]
    # b3 carries no baggage, so no budget: documented.
    with scope, tracer.start_span("out"):
        assert "baggage" not in DistributedTracer("svc", "b3").inject_context({})


def test_the_innermost_propagating_budget_travels(ledger: MemoryLedger) -> None:
    tracer = DistributedTracer("svc")
    outer = synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True)
    inner = synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True)
    with outer, inner, tracer.start_span("out"):
        headers = tracer.inject_context({})
    assert inner.remote is not None and inner.remote.wire_value in headers["baggage"]


# -- the receiver ------------------------------------------------------------------------------------------


async def test_a_joined_span_charges_the_originator(ledger: MemoryLedger, llm: ServerLLM) -> None:
    tracer = DistributedTracer("svc")
    origin = synapsekit.budget(max_cost_usd=usd(2 * CALL), ledger=ledger, propagate=True, name="req")
    with origin, tracer.start_span("out"):
        headers = tracer.inject_context({})
    parent = tracer.extract_context(headers)
    with tracer.start_span("in", parent_context=parent):
        await llm.generate(prompt_of(3), max_tokens=5)
        # Nested local budgets still apply, on top of the joined one.
        with (
            synapsekit.budget(max_cost_usd=usd(CALL // 2), name="local"),
            pytest.raises(BudgetExceeded) as local,
        ):
            await llm.generate(prompt_of(3), max_tokens=5)
        await llm.generate(prompt_of(3), max_tokens=5)
        with pytest.raises(BudgetExceeded) as caught:
            await llm.generate(prompt_of(3), max_tokens=5)
    assert local.value.budget_name == "local"
    assert caught.value.budget_name == "req"
    assert origin.spent_usd == usd(2 * CALL)
    assert core_context.active_scopes() == ()  # left when the span's block ended


async def test_a_span_without_with_joins_nothing_and_junk_never_raises(ledger: MemoryLedger) -> None:
    tracer = DistributedTracer("svc")
    for junk in ("", "%ff", "1.shared", "x" * 8000, f"1.shared.{ID}.{'z' * 64}"):
        parent = tracer.extract_context(
            {
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "baggage": f"synapsekit.budget={junk}",
            }
        )
        assert parent is not None
        with tracer.start_span("in", parent_context=parent):
            assert core_context.active_scopes() == ()
    assert synapsekit.budget_join_refusals().get("malformed", 0) >= 3


def test_refusals_warn_once_per_reason_and_are_counted(
    ledger: MemoryLedger, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="synapsekit.budget"):
        for _ in range(3):
            assert remote.join(remote.encode_identity("shared", ID)).refused == "unknown_budget"
            assert remote.join(remote.encode_identity("nowhere", ID)).refused == "unknown_ledger"
    assert synapsekit.budget_join_refusals() == {"unknown_budget": 3, "unknown_ledger": 3}
    assert len([r for r in caplog.records if "joins nothing" in r.getMessage()]) == 2


def test_secrets_decide_what_joins(ledger: MemoryLedger) -> None:
    unsigned = synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True)
    synapsekit.register_ledger("shared", ledger, secret="s3cret")
    signed = synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True)
    assert unsigned.remote is not None and signed.remote is not None
    assert remote.join(unsigned.remote.wire_value).refused == "unsigned"
    assert remote.join(signed.remote.wire_value).scope is not None
    forged = signed.remote.wire_value[:-1] + ("0" if signed.remote.wire_value[-1] != "0" else "1")
    assert remote.join(forged).refused == "bad_signature"


def test_an_expired_record_joins_nothing_even_when_cached(
    ledger: MemoryLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope = synapsekit.budget(max_cost_usd=1, ledger=ledger, propagate=True, propagate_ttl_s=60)
    assert scope.remote is not None
    assert remote.join(scope.remote.wire_value).scope is not None
    later = remote.time.time() + 61
    monkeypatch.setattr(remote.time, "time", lambda: later)
    assert remote.join(scope.remote.wire_value).refused == "expired"


def test_the_joined_budget_has_the_originators_limits(ledger: MemoryLedger) -> None:
    origin = synapsekit.budget(
        max_cost_usd=0.25, max_tokens=1000, window="day", ledger=ledger, propagate=True, name="req"
    )
    assert origin.remote is not None
    joined = remote.join(origin.remote.wire_value).scope
    assert joined is not None
    assert (joined.limit_usd, joined.max_tokens, joined.window, joined.name, joined.key) == (
        0.25,
        1000,
        "day",
        "req",
        origin.key,
    )
    assert remote.join(origin.remote.wire_value).scope is joined  # one budget per id, not per request


async def test_the_ambient_join_reads_the_otel_baggage(ledger: MemoryLedger, llm: ServerLLM) -> None:
    origin = synapsekit.budget(max_cost_usd=usd(CALL), ledger=ledger, propagate=True, name="req")
    assert origin.remote is not None
    ambient = AmbientBudgetJoin()
    core_context.add_global_scope(ambient)
    token = context_api.attach(baggage_api.set_baggage(remote.BAGGAGE_KEY, origin.remote.wire_value))
    try:
        await llm.generate(prompt_of(3), max_tokens=5)
        with pytest.raises(BudgetExceeded) as caught:
            await llm.generate(prompt_of(3), max_tokens=5)
    finally:
        context_api.detach(token)
        core_context.remove_global_scope(ambient)
    assert caught.value.budget_name == "req"
    assert origin.spent_usd == usd(CALL)


def test_zero_code_mode_joins_when_ledgers_are_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import propagate

    from synapsekit.cli._autoinstrument import configure_from_env

    previous = propagate.get_global_textmap()
    setup: Any = None
    try:
        monkeypatch.setenv(remote.LEDGERS_ENV_VAR, "shared=memory")
        setup = configure_from_env({"SYNAPSEKIT_LEDGERS": "shared=memory", "SYNAPSEKIT_INSTRUMENT": "none"})
        assert isinstance(setup.budget_join, AmbientBudgetJoin)
        assert setup.budget_join in core_context.global_scopes
    finally:
        if setup is not None and setup.budget_join is not None:
            core_context.remove_global_scope(setup.budget_join)
        propagate.set_global_textmap(previous)

"""Budgets that follow a request across services: the identity on the wire, the ledger registry, the record.

**What travels.** Only an identity, in the W3C baggage entry ``synapsekit.budget``::

    1.<ledger name>.<budget id>[.<signature>]

``ledger name`` is a name (``[A-Za-z0-9_-]{1,64}``) that each receiving service maps to a ledger it configured
itself (:func:`register_ledger`, ``SYNAPSEKIT_LEDGERS``); the ledger's URL and credentials never leave the
process. ``budget id`` is 32 random hex digits. The optional signature is the hex HMAC-SHA256 of the rest under
a shared secret.

**What stays in the ledger.** The originator writes a *budget record* under the id: the account key the spend
is kept under, the name, window, limits and an expiry. A receiver reads the record from its own ledger and
builds a budget on the same account, so it admits calls against the originator's limit and its spend is
visible to the originator. Nothing on the wire can raise a limit: a header can only name a record that exists.

Parsing never raises: anything malformed, unsigned where a signature is required, unknown or expired joins
nothing, with one warning per reason and a count (:func:`budget_join_refusals`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final, NamedTuple

from synapsekit._budget.ledger import (
    Account,
    Ledger,
    LedgerError,
    Limits,
    MemoryLedger,
    Reservation,
    ReserveOutcome,
    ledger_from_url,
)
from synapsekit._budget.limit import NANO_PER_USD, ON_LEDGER_ERROR, WINDOWS, validate_choice, validate_seconds
from synapsekit._budget.windows import RETAIN_AFTER_END

if TYPE_CHECKING:
    from synapsekit._budget.scope import BudgetScope

logger = logging.getLogger("synapsekit.budget")

BAGGAGE_KEY: Final = "synapsekit.budget"
LEDGERS_ENV_VAR: Final = "SYNAPSEKIT_LEDGERS"
SECRET_ENV_VAR: Final = "SYNAPSEKIT_BUDGET_SECRET"
DEFAULT_LEDGER_NAME: Final = "default"
DEFAULT_PROPAGATED_NAME: Final = "propagated"
DEFAULT_PROPAGATE_TTL_S: Final = 3600.0
"""How long a propagated budget can be joined after it was opened (the record's expiry)."""

_VERSION: Final = "1"
_LEDGER_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BUDGET_ID_RE: Final = re.compile(r"[0-9a-f]{32}")
_SIGNATURE_RE: Final = re.compile(r"[0-9a-f]{64}")
# Longest valid value: "1." + 64 + "." + 32 + "." + 64; anything longer is not worth splitting.
_MAX_VALUE_LENGTH: Final = 2 + 64 + 1 + 32 + 1 + 64
_RECORD_KEY_PREFIX: Final = "synapsekit:budget:remote:"
_RECORD_GRACE_S: Final = 300.0
# Joined budgets are reused by every request naming the same id (a fan-out of one user request): their
# circuit breaker and cached account carry over. Bounded: an attacker sending many ids evicts, never grows.
_MAX_JOINED: Final = 1024

REFUSAL_REASONS: Final = (
    "malformed",
    "unknown_ledger",
    "unsigned",
    "bad_signature",
    "unknown_budget",
    "expired",
    "ledger_unavailable",
)


class Identity(NamedTuple):
    """A decoded wire identity; ``signature`` is ``None`` when unsigned."""

    ledger_name: str
    budget_id: str
    signature: str | None


@dataclass(frozen=True, slots=True)
class Registration:
    """A ledger a service knows under a name, with that name's secret and outage policy."""

    name: str
    ledger: Ledger
    secret: bytes | None
    on_ledger_error: str


# -- encoding, decoding, signing -----------------------------------------------------------------------------


def _signature(secret: bytes, ledger_name: str, budget_id: str) -> str:
    message = f"synapsekit.budget:{_VERSION}:{ledger_name}:{budget_id}".encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def encode_identity(ledger_name: str, budget_id: str, secret: bytes | None = None) -> str:
    """The baggage value naming ``budget_id`` in the ledger called ``ledger_name``, signed with ``secret``."""
    if not _LEDGER_NAME_RE.fullmatch(ledger_name):
        raise ValueError(f"ledger_name must match [A-Za-z0-9_-]{{1,64}}, got {ledger_name!r}")
    if not _BUDGET_ID_RE.fullmatch(budget_id):
        raise ValueError(f"budget_id must be 32 lower-case hex digits, got {budget_id!r}")
    value = f"{_VERSION}.{ledger_name}.{budget_id}"
    return value if secret is None else f"{value}.{_signature(secret, ledger_name, budget_id)}"


def decode_identity(value: object) -> Identity | None:
    """Parse a baggage value; ``None`` for anything that is not a well-formed identity. Never raises."""
    if not isinstance(value, str) or len(value) > _MAX_VALUE_LENGTH:
        return None
    parts = value.split(".")
    if len(parts) not in (3, 4) or parts[0] != _VERSION:
        return None
    ledger_name, budget_id = parts[1], parts[2]
    if not _LEDGER_NAME_RE.fullmatch(ledger_name) or not _BUDGET_ID_RE.fullmatch(budget_id):
        return None
    signature = parts[3] if len(parts) == 4 else None
    if signature is not None and not _SIGNATURE_RE.fullmatch(signature):
        return None
    return Identity(ledger_name, budget_id, signature)


def signature_valid(identity: Identity, secret: bytes) -> bool:
    """Whether ``identity`` carries the signature ``secret`` makes (a constant-time comparison)."""
    if identity.signature is None:
        return False
    expected = _signature(secret, identity.ledger_name, identity.budget_id)
    return hmac.compare_digest(expected, identity.signature)


# -- the registry --------------------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_registered: dict[str, Registration] = {}
_env_loaded: tuple[str, str] | None = None


def _secret_bytes(secret: str | bytes | None) -> bytes | None:
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or not secret:
        raise ValueError("secret must be a non-empty str or bytes")
    return secret


def register_ledger(
    name: str,
    ledger: Ledger | str,
    *,
    secret: str | bytes | None = None,
    on_ledger_error: str = "fail_closed",
) -> None:
    """Make the ledger ``ledger`` (an object or URL) known under ``name`` to propagated budgets.

    On a receiving service, an incoming budget identity naming ``name`` is looked up in this ledger; names
    that are not registered join nothing. On the originating service, ``budget(..., propagate=True)`` over this
    ledger sends ``name``. With a ``secret`` (default: ``SYNAPSEKIT_BUDGET_SECRET``), identities for ``name``
    are signed when sent and must carry a valid signature when received. ``on_ledger_error`` decides what the
    calls of a request do when the ledger cannot be reached to join its budget (``"fail_closed"``: refused).
    """
    if not isinstance(name, str) or not _LEDGER_NAME_RE.fullmatch(name):
        raise ValueError(f"ledger name must match [A-Za-z0-9_-]{{1,64}}, got {name!r}")
    validate_choice("on_ledger_error", on_ledger_error, ON_LEDGER_ERROR)
    resolved = ledger_from_url(ledger) if isinstance(ledger, str) else ledger
    if not isinstance(resolved, Ledger):
        raise TypeError(f"ledger must be a Ledger or a ledger URL, got {ledger!r}")
    entry = Registration(name, resolved, _secret_bytes(secret) or _env_secret(), on_ledger_error)
    with _registry_lock:
        _registered[name] = entry


def unregister_ledger(name: str) -> None:
    with _registry_lock:
        _registered.pop(name, None)


def clear_registry() -> None:
    """Forget every registration, and reread the environment on next use (tests)."""
    global _env_loaded
    with _registry_lock:
        _registered.clear()
        _env_loaded = None
    with _joined_lock:
        _joined.clear()
    _refusals.clear()
    _warned.clear()


def _env_secret() -> bytes | None:
    value = os.environ.get(SECRET_ENV_VAR, "")
    return value.encode("utf-8") if value else None


def _load_env() -> None:
    """Register ``SYNAPSEKIT_LEDGERS="name=url,other=url"`` (once per value of the variable)."""
    global _env_loaded
    raw = os.environ.get(LEDGERS_ENV_VAR, "")
    state = (raw, os.environ.get(SECRET_ENV_VAR, ""))
    if _env_loaded == state:
        return
    _env_loaded = state
    for member in raw.split(","):
        name, sep, url = member.strip().partition("=")
        if not member.strip():
            continue
        if not sep or not url.strip():
            logger.warning("%s: ignoring %r (expected name=url)", LEDGERS_ENV_VAR, member)
            continue
        try:
            register_ledger(name.strip(), url.strip())
        except (ValueError, TypeError) as exc:
            logger.warning("%s: ignoring %r: %s", LEDGERS_ENV_VAR, member, exc)


def registration(name: str) -> Registration | None:
    """The ledger registered under ``name`` (the environment's ``SYNAPSEKIT_LEDGERS`` included)."""
    _load_env()
    with _registry_lock:
        return _registered.get(name)


def _name_of(ledger: Ledger) -> str | None:
    _load_env()
    with _registry_lock:
        for entry in _registered.values():
            if entry.ledger is ledger:
                return entry.name
    return None


# -- budget records ------------------------------------------------------------------------------------------

# MemoryLedger keeps no records of its own; they live here, per ledger object, for in-process propagation.
_memory_records: weakref.WeakKeyDictionary[MemoryLedger, dict[str, tuple[str, float]]] = (
    weakref.WeakKeyDictionary()
)
_memory_lock = threading.Lock()


def _redis_client(ledger: Ledger) -> object | None:
    from synapsekit._budget.redis_ledger import RedisLedger

    return ledger.client if isinstance(ledger, RedisLedger) else None


def write_record(ledger: Ledger, budget_id: str, payload: str, ttl_s: float) -> None:
    """Store ``payload`` under ``budget_id`` for ``ttl_s`` seconds; raises :class:`LedgerError` if unreachable."""
    if isinstance(ledger, MemoryLedger):
        with _memory_lock:
            _memory_records.setdefault(ledger, {})[budget_id] = (payload, time.time() + ttl_s)
        return
    client = _redis_client(ledger)
    if client is None:
        raise ValueError(f"propagate=True needs a memory or Redis ledger, got {ledger!r}")
    import redis

    try:
        # Kept a while past its expiry, so a late join is refused as "expired" rather than "unknown".
        keep_ms = int((ttl_s + _RECORD_GRACE_S) * 1000)
        client.set(_RECORD_KEY_PREFIX + budget_id, payload, px=keep_ms)  # type: ignore[attr-defined]
    except redis.RedisError as exc:
        raise LedgerError(f"Redis budget ledger unavailable: {type(exc).__name__}: {exc}") from exc


def read_record(ledger: Ledger, budget_id: str) -> str | None:
    """The payload stored under ``budget_id``, ``None`` if there is none (or it expired)."""
    if isinstance(ledger, MemoryLedger):
        with _memory_lock:
            found = _memory_records.get(ledger, {}).get(budget_id)
        return found[0] if found is not None and found[1] > time.time() else None
    client = _redis_client(ledger)
    if client is None:
        return None
    import redis

    try:
        raw = client.get(_RECORD_KEY_PREFIX + budget_id)  # type: ignore[attr-defined]
    except redis.RedisError as exc:
        raise LedgerError(f"Redis budget ledger unavailable: {type(exc).__name__}: {exc}") from exc
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)


class BudgetRecord(NamedTuple):
    """What the originator writes to the ledger; a receiver trusts only this, never the wire."""

    key: str
    name: str
    window: str
    max_cost_nano: int | None
    max_tokens: int | None
    on_exceeded: str
    expires_at: float

    def dumps(self) -> str:
        return json.dumps({"v": 1, **self._asdict()}, separators=(",", ":"))

    @classmethod
    def loads(cls, payload: str) -> BudgetRecord | None:
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(data, Mapping) or data.get("v") != 1:
            return None
        key, name, window = data.get("key"), data.get("name"), data.get("window")
        cost, tokens = data.get("max_cost_nano"), data.get("max_tokens")
        on_exceeded, expires_at = data.get("on_exceeded"), data.get("expires_at")
        if not (isinstance(key, str) and key and isinstance(name, str) and window in WINDOWS):
            return None
        if (
            not all(v is None or (type(v) is int and v >= 0) for v in (cost, tokens))
            or cost == tokens is None
        ):
            return None
        if on_exceeded not in ("raise", "warn") or not isinstance(expires_at, (int, float)):
            return None
        return cls(key, name, str(window), cost, tokens, str(on_exceeded), float(expires_at))


# -- the originator ------------------------------------------------------------------------------------------


class PropagatedBudget:
    """A budget's travelling identity: its wire value and the record it names."""

    __slots__ = ("_lock", "budget_id", "ledger", "ledger_name", "record", "ttl_s", "wire_value", "written")

    def __init__(self, scope: BudgetScope, ledger_name: str | None, ttl_s: float) -> None:
        ttl_s = validate_seconds("propagate_ttl_s", ttl_s)
        ledger = scope.ledger
        if _redis_client(ledger) is None and not isinstance(ledger, MemoryLedger):
            raise ValueError(
                "propagate=True needs a ledger every service can reach: a Redis ledger (ledger='redis://...'),"
                f" or the in-process memory ledger; got {ledger!r}"
            )
        if ledger_name is None:
            ledger_name = _name_of(ledger) or DEFAULT_LEDGER_NAME
        elif not isinstance(ledger_name, str) or not _LEDGER_NAME_RE.fullmatch(ledger_name):
            raise ValueError(f"ledger_name must match [A-Za-z0-9_-]{{1,64}}, got {ledger_name!r}")
        entry = registration(ledger_name)
        secret = entry.secret if entry is not None else _env_secret()
        self.budget_id = secrets.token_hex(16)
        self.ledger = ledger
        self.ledger_name = ledger_name
        self.ttl_s = ttl_s
        self.wire_value = encode_identity(ledger_name, self.budget_id, secret)
        limits = scope._limits
        self.record = BudgetRecord(
            scope.key,
            scope.name,
            scope.window,
            limits.nano,
            limits.tokens,
            scope.on_exceeded,
            time.time() + ttl_s,
        )
        scope.session_retain_until = _retain_after(self.record.expires_at)
        self._lock = threading.Lock()
        self.written = False
        self.ensure_written()

    def ensure_written(self) -> bool:
        """Write the record if it is not yet in the ledger; False while the ledger cannot be reached."""
        if self.written:
            return True
        with self._lock:
            if self.written:
                return True
            remaining = self.record.expires_at - time.time()
            if remaining <= 0:
                return False
            try:
                write_record(self.ledger, self.budget_id, self.record.dumps(), remaining)
            except LedgerError as exc:
                # Not fatal here: the budget still applies locally; the next outgoing request tries again.
                logger.warning("budget %r: cannot propagate yet: %s", self.record.name, exc)
                return False
            self.written = True
            return True


def outgoing_identity(scopes: tuple[object, ...]) -> str | None:
    """The wire value of the innermost propagating budget among ``scopes`` (outermost first), if any."""
    for scope in reversed(scopes):
        remote = getattr(scope, "remote", None)
        if isinstance(remote, PropagatedBudget):
            return remote.wire_value if remote.ensure_written() else None
    return None


# -- the receiver --------------------------------------------------------------------------------------------

_refusals: Counter[str] = Counter()
_warned: set[str] = set()
_joined_lock = threading.Lock()
_joined: OrderedDict[str, tuple[BudgetScope, float]] = OrderedDict()


def budget_join_refusals() -> dict[str, int]:
    """How many incoming budget identities joined nothing in this process, by reason."""
    return dict(_refusals)


def _refuse(reason: str, detail: str) -> None:
    _refusals[reason] += 1
    if reason not in _warned:
        # One warning per reason: a flood of forged headers must not flood the log.
        _warned.add(reason)
        logger.warning("incoming budget identity joins nothing (%s): %s", reason, detail)


class JoinResult(NamedTuple):
    """What an incoming identity joins: a scope (the originator's budget, or one that refuses every call
    while the ledger is away and fails closed), with its id and name for spans; or ``None`` and a reason."""

    scope: BudgetScope | None
    budget_id: str | None
    budget_name: str | None
    refused: str | None


def join(value: object) -> JoinResult:
    """Join the budget an incoming baggage value names. Never raises."""
    identity = decode_identity(value)
    if identity is None:
        _refuse("malformed", "not a synapsekit budget identity")
        return JoinResult(None, None, None, "malformed")
    entry = registration(identity.ledger_name)
    if entry is None:
        _refuse("unknown_ledger", f"no ledger is registered under {identity.ledger_name!r}")
        return JoinResult(None, identity.budget_id, None, "unknown_ledger")
    if entry.secret is not None:
        if identity.signature is None:
            _refuse("unsigned", f"ledger {entry.name!r} requires signed identities")
            return JoinResult(None, identity.budget_id, None, "unsigned")
        if not signature_valid(identity, entry.secret):
            _refuse("bad_signature", f"the signature does not match ledger {entry.name!r}'s secret")
            return JoinResult(None, identity.budget_id, None, "bad_signature")
    now = time.time()
    cache_key = f"{entry.name}.{identity.budget_id}"
    with _joined_lock:
        cached = _joined.get(cache_key)
        if cached is not None:
            _joined.move_to_end(cache_key)
    if cached is not None:
        scope, expires_at = cached
        if expires_at > now:
            return JoinResult(scope, identity.budget_id, scope.name, None)
        _refuse("expired", "the budget's record has expired")
        return JoinResult(None, identity.budget_id, scope.name, "expired")
    try:
        payload = read_record(entry.ledger, identity.budget_id)
    except LedgerError as exc:
        _refuse("ledger_unavailable", str(exc))
        if entry.on_ledger_error == "fail_open":
            return JoinResult(None, identity.budget_id, None, "ledger_unavailable")
        return JoinResult(
            _unreachable_scope(exc, identity.budget_id), identity.budget_id, None, "ledger_unavailable"
        )
    record = None if payload is None else BudgetRecord.loads(payload)
    if record is None:
        _refuse("unknown_budget", "no such budget in the ledger")
        return JoinResult(None, identity.budget_id, None, "unknown_budget")
    if record.expires_at <= now:
        _refuse("expired", "the budget's record has expired")
        return JoinResult(None, identity.budget_id, record.name, "expired")
    scope = _scope_for(record, entry)
    with _joined_lock:
        _joined[cache_key] = (scope, record.expires_at)
        while len(_joined) > _MAX_JOINED:
            _joined.popitem(last=False)
    return JoinResult(scope, identity.budget_id, record.name, None)


def _retain_after(expires_at: float) -> float:
    """Keep a propagated budget's spend a day past its last possible join, for inspection, then drop it."""
    return expires_at + RETAIN_AFTER_END.total_seconds()


def _scope_for(record: BudgetRecord, entry: Registration) -> BudgetScope:
    from synapsekit._budget.scope import BudgetScope

    scope = BudgetScope(
        None if record.max_cost_nano is None else Decimal(record.max_cost_nano) / NANO_PER_USD,
        window=record.window,
        max_tokens=record.max_tokens,
        on_exceeded=record.on_exceeded,
        name=record.name,
        ledger=entry.ledger,
        key=record.key,
        on_ledger_error=entry.on_ledger_error,
    )
    # The receiver may touch the account first: its keys get the same expiry as the originator's.
    scope.session_retain_until = _retain_after(record.expires_at)
    return scope


def _unreachable_scope(cause: LedgerError, budget_id: str) -> BudgetScope:
    """A budget that refuses every call with ``BudgetLedgerUnavailable``: the ledger holding the incoming budget
    is away and its registration fails closed, so nothing in the request may spend unaccounted."""
    from synapsekit._budget.scope import BudgetScope

    return BudgetScope(0, name=f"remote budget {budget_id}", ledger=_UnreachableLedger(cause))


class _UnreachableLedger(MemoryLedger):
    def __init__(self, cause: LedgerError) -> None:
        super().__init__()
        self._cause = cause

    def reserve(
        self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
    ) -> ReserveOutcome:
        raise LedgerError(str(self._cause))

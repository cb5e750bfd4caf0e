"""``RedisLedger``: one budget shared by many processes and hosts through a Redis server.

Each operation is one Lua script, so checking the limit and recording the reservation (or settling it) is
a single atomic step on the server: no two clients can both take the last dollar. Per account (budget key
and window bucket) there are four keys sharing a hash tag (so they live in one cluster slot):
``…:totals`` (a hash of spent and reserved nano-dollars and tokens), ``…:res`` (reservation id →
``"nano:tokens"``), ``…:exp`` (a sorted set of reservation ids by expiry) and ``…:released`` (a sorted set of
reservation ids released by their client, by the time they may be forgotten). Windowed accounts get a key
TTL (the end of the window plus a day); reservations past their expiry are charged to spent by the next
script that touches the account.

**No phantom reservations.** A reserve that timed out on the client may still run when the server resumes
(the command was sent; only the answer was lost). The call was refused, or went on unreserved, so such a
reservation must never count. The client therefore releases every reservation whose reserve failed, by id:
before its next operation it runs a release script that removes the reservation if it landed and leaves a
tombstone in ``…:released`` either way; a reserve that arrives after its release finds the tombstone and does
nothing, and a settle of a released id charges the call in full (nothing of it was charged before).
Tombstones are kept for a day past the reservation's expiry.

Times come from the clients' clocks, as the window buckets do, so hosts sharing a budget need synchronised
clocks (NTP). Socket timeouts are short and there are no retries: an unreachable server fails fast with
:class:`~synapsekit._budget.ledger.LedgerError` and the budget's ``on_ledger_error`` policy applies.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from synapsekit._budget.ledger import (
    Account,
    LedgerError,
    Limits,
    Reservation,
    ReserveItem,
    ReserveOutcome,
    SettleItem,
    Totals,
)

_PRELUDE = """
local totals, res, exp, released = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function int(x) return string.format('%d', x) end
local function parse(held)
  local sep = string.find(held, ':', 1, true)
  return tonumber(string.sub(held, 1, sep - 1)), tonumber(string.sub(held, sep + 1))
end
local function sweep(now)
  local expired = redis.call('ZRANGEBYSCORE', exp, '-inf', now)
  for _, id in ipairs(expired) do
    local held = redis.call('HGET', res, id)
    if held then
      local n, t = parse(held)
      redis.call('HINCRBY', totals, 'reserved_nano', int(-n))
      redis.call('HINCRBY', totals, 'reserved_tokens', int(-t))
      redis.call('HINCRBY', totals, 'spent_nano', int(n))
      redis.call('HINCRBY', totals, 'spent_tokens', int(t))
      redis.call('HDEL', res, id)
    end
    redis.call('ZREM', exp, id)
  end
end
local function read()
  local v = redis.call('HMGET', totals, 'spent_nano', 'reserved_nano', 'spent_tokens', 'reserved_tokens')
  return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0}
end
local function keep(ttl)
  if ttl > 0 then
    for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ttl) end
  end
end
"""

# ARGV: now, id, nano, tokens, expires_at, limit_nano (-1: none), limit_tokens (-1: none), force, ttl
_RESERVE = (
    _PRELUDE
    + """
local now, id = tonumber(ARGV[1]), ARGV[2]
local nano, tokens, expires_at = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local limit_nano, limit_tokens = tonumber(ARGV[6]), tonumber(ARGV[7])
sweep(now)
redis.call('ZREMRANGEBYSCORE', released, '-inf', now)
local t = read()
if redis.call('ZSCORE', released, id) then
  -- released by its client after this reserve timed out there: it arrived too late to count
  return {0, t[1], t[2], t[3], t[4]}
end
if ARGV[8] == '0' then
  if (limit_nano >= 0 and t[1] + t[2] + nano > limit_nano)
     or (limit_tokens >= 0 and t[3] + t[4] + tokens > limit_tokens) then
    return {0, t[1], t[2], t[3], t[4]}
  end
end
local held_nano, held_tokens = 0, 0
local held = redis.call('HGET', res, id)
if held then held_nano, held_tokens = parse(held) end
redis.call('HSET', res, id, int(held_nano + nano) .. ':' .. int(held_tokens + tokens))
redis.call('ZADD', exp, ARGV[5], id)
redis.call('HINCRBY', totals, 'reserved_nano', int(nano))
redis.call('HINCRBY', totals, 'reserved_tokens', int(tokens))
keep(tonumber(ARGV[9]))
t = read()
return {1, t[1], t[2], t[3], t[4]}
"""
)

# ARGV: id, nano, tokens, reserved_nano, reserved_tokens, ttl
_SETTLE = (
    _PRELUDE
    + """
local id = ARGV[1]
local dn, dt
local held = redis.call('HGET', res, id)
if held then
  local n, t = parse(held)
  redis.call('HINCRBY', totals, 'reserved_nano', int(-n))
  redis.call('HINCRBY', totals, 'reserved_tokens', int(-t))
  redis.call('HDEL', res, id)
  redis.call('ZREM', exp, id)
  dn, dt = tonumber(ARGV[2]), tonumber(ARGV[3])
elseif redis.call('ZSCORE', released, id) then
  -- released after a failed reserve (the call went on unreserved): nothing of it was charged yet
  dn, dt = tonumber(ARGV[2]), tonumber(ARGV[3])
else
  -- expired and already charged at its reserved amount: apply only the difference
  dn, dt = tonumber(ARGV[2]) - tonumber(ARGV[4]), tonumber(ARGV[3]) - tonumber(ARGV[5])
end
if redis.call('HINCRBY', totals, 'spent_nano', int(dn)) < 0 then
  redis.call('HSET', totals, 'spent_nano', '0')
end
if redis.call('HINCRBY', totals, 'spent_tokens', int(dt)) < 0 then
  redis.call('HSET', totals, 'spent_tokens', '0')
end
keep(tonumber(ARGV[6]))
return read()
"""
)

# ARGV: ttl, then (id, forget_at) pairs
_RELEASE = (
    _PRELUDE
    + """
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local held = redis.call('HGET', res, id)
  if held then
    local n, t = parse(held)
    redis.call('HINCRBY', totals, 'reserved_nano', int(-n))
    redis.call('HINCRBY', totals, 'reserved_tokens', int(-t))
    redis.call('HDEL', res, id)
    redis.call('ZREM', exp, id)
  end
  redis.call('ZADD', released, ARGV[i + 1], id)
end
keep(tonumber(ARGV[1]))
return read()
"""
)

# ARGV: now
_TOTALS = _PRELUDE + "sweep(tonumber(ARGV[1]))\nreturn read()\n"

# The batched operations take four keys per item (an account's totals, res, exp, released, in that order;
# two items may name the same account) and work on them with the same steps as the scripts above.
_BATCH_PRELUDE = """
local function int(x) return string.format('%d', x) end
local function parse(held)
  local sep = string.find(held, ':', 1, true)
  return tonumber(string.sub(held, 1, sep - 1)), tonumber(string.sub(held, sep + 1))
end
local function sweep(totals, res, exp, now)
  local expired = redis.call('ZRANGEBYSCORE', exp, '-inf', now)
  for _, id in ipairs(expired) do
    local held = redis.call('HGET', res, id)
    if held then
      local n, t = parse(held)
      redis.call('HINCRBY', totals, 'reserved_nano', int(-n))
      redis.call('HINCRBY', totals, 'reserved_tokens', int(-t))
      redis.call('HINCRBY', totals, 'spent_nano', int(n))
      redis.call('HINCRBY', totals, 'spent_tokens', int(t))
      redis.call('HDEL', res, id)
    end
    redis.call('ZREM', exp, id)
  end
end
local function read(totals)
  local v = redis.call('HMGET', totals, 'spent_nano', 'reserved_nano', 'spent_tokens', 'reserved_tokens')
  return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0}
end
local function keep(base, ttl)
  if ttl > 0 then
    for k = base + 1, base + 4 do redis.call('EXPIRE', KEYS[k], ttl) end
  end
end
"""

# ARGV: now, n, then per item: id, nano, tokens, expires_at, limit_nano (-1: none), limit_tokens (-1: none),
# force, ttl. Reply per item: admitted, then the account's four totals. All-or-nothing: every item is
# checked first (items on the same account counting the ones before them), and only when all fit is any
# reservation written.
_RESERVE_MANY = (
    _BATCH_PRELUDE
    + """
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local fits, pending, refused = {}, {}, false
for i = 0, n - 1 do
  local totals, res, exp, released = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local a = 3 + 8 * i
  local id, nano, tokens = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local limit_nano, limit_tokens = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  sweep(totals, res, exp, now)
  redis.call('ZREMRANGEBYSCORE', released, '-inf', now)
  local t = read(totals)
  local p = pending[totals] or {0, 0}
  local ok = 1
  if redis.call('ZSCORE', released, id) then
    -- released by its client after this reserve timed out there: it arrived too late to count
    ok = 0
  elseif ARGV[a + 6] == '0' and ((limit_nano >= 0 and t[1] + t[2] + p[1] + nano > limit_nano)
      or (limit_tokens >= 0 and t[3] + t[4] + p[2] + tokens > limit_tokens)) then
    ok = 0
  end
  if ok == 1 then pending[totals] = {p[1] + nano, p[2] + tokens} else refused = true end
  fits[i + 1] = ok
end
if not refused then
  for i = 0, n - 1 do
    local totals, res, exp = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3]
    local a = 3 + 8 * i
    local id, nano, tokens = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    local held_nano, held_tokens = 0, 0
    local held = redis.call('HGET', res, id)
    if held then held_nano, held_tokens = parse(held) end
    redis.call('HSET', res, id, int(held_nano + nano) .. ':' .. int(held_tokens + tokens))
    redis.call('ZADD', exp, ARGV[a + 3], id)
    redis.call('HINCRBY', totals, 'reserved_nano', int(nano))
    redis.call('HINCRBY', totals, 'reserved_tokens', int(tokens))
    keep(4 * i, tonumber(ARGV[a + 7]))
  end
end
local reply = {}
for i = 0, n - 1 do
  local t = read(KEYS[4 * i + 1])
  reply[#reply + 1] = fits[i + 1]
  for k = 1, 4 do reply[#reply + 1] = t[k] end
end
return reply
"""
)

# ARGV: n, then per item: id, nano, tokens, reserved_nano, reserved_tokens, ttl. Reply: four totals per item.
_SETTLE_MANY = (
    _BATCH_PRELUDE
    + """
local n = tonumber(ARGV[1])
local reply = {}
for i = 0, n - 1 do
  local totals, res, exp, released = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local a = 2 + 6 * i
  local id = ARGV[a]
  local dn, dt
  local held = redis.call('HGET', res, id)
  if held then
    local hn, ht = parse(held)
    redis.call('HINCRBY', totals, 'reserved_nano', int(-hn))
    redis.call('HINCRBY', totals, 'reserved_tokens', int(-ht))
    redis.call('HDEL', res, id)
    redis.call('ZREM', exp, id)
    dn, dt = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  elseif redis.call('ZSCORE', released, id) then
    dn, dt = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  else
    dn, dt = tonumber(ARGV[a + 1]) - tonumber(ARGV[a + 3]), tonumber(ARGV[a + 2]) - tonumber(ARGV[a + 4])
  end
  if redis.call('HINCRBY', totals, 'spent_nano', int(dn)) < 0 then
    redis.call('HSET', totals, 'spent_nano', '0')
  end
  if redis.call('HINCRBY', totals, 'spent_tokens', int(dt)) < 0 then
    redis.call('HSET', totals, 'spent_tokens', '0')
  end
  keep(4 * i, tonumber(ARGV[a + 5]))
  local t = read(totals)
  for k = 1, 4 do reply[#reply + 1] = t[k] end
end
return reply
"""
)

# A tombstone outlives its reservation's expiry by this long: a reserve cannot arrive later than that.
_RELEASED_RETENTION_S = 86_400.0
# Releases waiting for the server; past this many (an outage of many calls) the oldest are dropped, and
# should their reserves still land, those are charged when they expire, as a crashed client's would be.
_MAX_PENDING_RELEASES = 10_000


class RedisLedger:
    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "synapsekit:budget",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``client``: a ``redis.Redis``; :meth:`from_url` makes one with short timeouts and no retries."""
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._totals = client.register_script(_TOTALS)
        self._release = client.register_script(_RELEASE)
        self._reserve_many = client.register_script(_RESERVE_MANY)
        self._settle_many = client.register_script(_SETTLE_MANY)
        # Reservations whose reserve failed on this client and that are not yet released on the server:
        # id -> (account, forget_at). Insertion-ordered, so the oldest are dropped first.
        self._pending: dict[str, tuple[Account, float]] = {}
        self._pending_lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        socket_timeout_s: float = 0.5,
        prefix: str = "synapsekit:budget",
        clock: Callable[[], float] = time.time,
    ) -> RedisLedger:
        try:
            import redis
        except ImportError as exc:
            raise ImportError(
                'a redis:// budget ledger needs the redis package: pip install "synapsekit[redis]"'
            ) from exc
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        return cls(client, prefix=prefix, clock=clock)

    @property
    def client(self) -> Any:
        return self._client

    def reserve(
        self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
    ) -> ReserveOutcome:
        now = self._clock()
        if self._pending:
            self._release_pending()  # see _run; when this fails the reserve below is never sent
        try:
            reply = self._call(
                self._reserve,
                account,
                [
                    repr(now),
                    reservation.id,
                    reservation.nano,
                    reservation.tokens,
                    repr(reservation.expires_at),
                    -1 if limits.nano is None else limits.nano,
                    -1 if limits.tokens is None else limits.tokens,
                    1 if force else 0,
                    _ttl(account, now),
                ],
            )
        except LedgerError:
            # The script may still run when the server answers again: release it before anything else.
            self._release_later(account, reservation)
            raise
        return ReserveOutcome(bool(int(reply[0])), _totals(reply[1:]))

    def reserve_many(self, items: Sequence[ReserveItem]) -> list[ReserveOutcome]:
        """One script for the whole batch. The accounts' keys are passed together, so on a Redis Cluster
        they must hash to one slot (the budgets' keys sharing a hash tag); a single server takes any.
        """
        now = self._clock()
        if self._pending:
            self._release_pending()
        keys: list[str] = []
        args: list[object] = [repr(now), len(items)]
        for account, reservation, limits, force in items:
            keys += self.keys_for(account)
            args += [
                reservation.id,
                reservation.nano,
                reservation.tokens,
                repr(reservation.expires_at),
                -1 if limits.nano is None else limits.nano,
                -1 if limits.tokens is None else limits.tokens,
                1 if force else 0,
                _ttl(account, now),
            ]
        try:
            reply = self._call_keys(self._reserve_many, keys, args)
        except LedgerError:
            # The script may still run when the server answers again: release every part of it first.
            for account, reservation, _, _ in items:
                self._release_later(account, reservation)
            raise
        return [
            ReserveOutcome(bool(int(reply[5 * index])), _totals(reply[5 * index + 1 : 5 * index + 5]))
            for index in range(len(items))
        ]

    def settle_many(self, items: Sequence[SettleItem]) -> list[Totals]:
        if self._pending:
            self._release_pending()
        now = self._clock()
        keys: list[str] = []
        args: list[object] = [len(items)]
        for account, reservation_id, nano, tokens, reserved_nano, reserved_tokens in items:
            keys += self.keys_for(account)
            args += [reservation_id, nano, tokens, reserved_nano, reserved_tokens, _ttl(account, now)]
        reply = self._call_keys(self._settle_many, keys, args)
        return [_totals(reply[4 * index : 4 * index + 4]) for index in range(len(items))]

    def release(self, account: Account, reservation_ids: Sequence[str], forget_at: float) -> Totals:
        """Remove these reservations if they landed; any reserve of them arriving later does nothing."""
        args: list[object] = [_ttl(account, self._clock())]
        for reservation_id in reservation_ids:
            args += [reservation_id, repr(forget_at)]
        return _totals(self._call(self._release, account, args))

    def settle(
        self,
        account: Account,
        reservation_id: str,
        *,
        nano: int,
        tokens: int,
        reserved_nano: int,
        reserved_tokens: int,
    ) -> Totals:
        args = [reservation_id, nano, tokens, reserved_nano, reserved_tokens, _ttl(account, self._clock())]
        return _totals(self._run(self._settle, account, args))

    def totals(self, account: Account) -> Totals:
        return _totals(self._run(self._totals, account, [repr(self._clock())]))

    def close(self) -> None:
        if self._pending:
            # A last chance for releases still waiting; a server still away will charge them on expiry.
            with contextlib.suppress(LedgerError):
                self._release_pending()
        self._client.close()

    def keys_for(self, account: Account) -> list[str]:
        # The hash tag keeps the four keys of an account in one Redis Cluster slot.
        base = f"{self._prefix}:{{{account.key}|{account.bucket}}}"
        return [f"{base}:totals", f"{base}:res", f"{base}:exp", f"{base}:released"]

    def _run(self, script: Any, account: Account, args: Sequence[object]) -> Sequence[Any]:
        if self._pending:
            # Releases go first: a reservation a failed reserve may have left must not count any longer than
            # it takes this client to reach the server again. While they cannot be sent, neither can this.
            self._release_pending()
        return self._call(script, account, args)

    def _call(self, script: Any, account: Account, args: Sequence[object]) -> Sequence[Any]:
        return self._call_keys(script, self.keys_for(account), args)

    def _call_keys(self, script: Any, keys: list[str], args: Sequence[object]) -> Sequence[Any]:
        import redis

        try:
            reply: Sequence[Any] = script(keys=keys, args=list(args))
        except redis.RedisError as exc:
            raise LedgerError(f"Redis budget ledger unavailable: {type(exc).__name__}: {exc}") from exc
        return reply

    def _release_later(self, account: Account, reservation: Reservation) -> None:
        with self._pending_lock:
            self._pending[reservation.id] = (account, reservation.expires_at + _RELEASED_RETENTION_S)
            while len(self._pending) > _MAX_PENDING_RELEASES:
                del self._pending[next(iter(self._pending))]

    def _release_pending(self) -> None:
        """Send the waiting releases, one script per account; raises LedgerError if the server is away."""
        with self._pending_lock:
            waiting = list(self._pending.items())
        by_account: dict[Account, list[str]] = {}
        forget_at: dict[Account, float] = {}
        for reservation_id, (account, forget) in waiting:
            by_account.setdefault(account, []).append(reservation_id)
            forget_at[account] = max(forget_at.get(account, 0.0), forget)
        for account, ids in by_account.items():
            self.release(account, ids, forget_at[account])
            with self._pending_lock:
                for reservation_id in ids:
                    self._pending.pop(reservation_id, None)

    def __repr__(self) -> str:
        return f"RedisLedger({self._client!r})"


def _ttl(account: Account, now: float) -> int:
    if account.retain_until is None:
        return 0
    return max(1, math.ceil(account.retain_until - now))


def _totals(values: Sequence[Any]) -> Totals:
    spent_nano, reserved_nano, spent_tokens, reserved_tokens = (int(value) for value in values[:4])
    return Totals(spent_nano, reserved_nano, spent_tokens, reserved_tokens)

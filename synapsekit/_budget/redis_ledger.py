"""``RedisLedger``: one budget shared by many processes and hosts through a Redis server.

Each operation is one Lua script, so checking the limit and recording the reservation (or settling it) is
a single atomic step on the server: no two clients can both take the last dollar. Per account (budget key
and window bucket) there are three keys sharing a hash tag (so they live in one cluster slot):
``…:totals`` (a hash of spent and reserved nano-dollars and tokens), ``…:res`` (reservation id →
``"nano:tokens"``) and ``…:exp`` (a sorted set of reservation ids by expiry). Windowed accounts get a key TTL
(the end of the window plus a day); reservations past their expiry are charged to spent by the next
script that touches the account.

Times come from the clients' clocks, as the window buckets do, so hosts sharing a budget need synchronised
clocks (NTP). Socket timeouts are short and there are no retries: an unreachable server fails fast with
:class:`~synapsekit._budget.ledger.LedgerError` and the budget's ``on_ledger_error`` policy applies.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from synapsekit._budget.ledger import Account, LedgerError, Limits, Reservation, ReserveOutcome, Totals

_PRELUDE = """
local totals, res, exp = KEYS[1], KEYS[2], KEYS[3]
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
local t = read()
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

# ARGV: now
_TOTALS = _PRELUDE + "sweep(tonumber(ARGV[1]))\nreturn read()\n"


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

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        socket_timeout_s: float = 0.5,
        prefix: str = "synapsekit:budget",
        clock: Callable[[], float] = time.time,
    ) -> RedisLedger:
        import redis
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
        reply = self._run(
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
        return ReserveOutcome(bool(int(reply[0])), _totals(reply[1:]))

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
        self._client.close()

    def keys_for(self, account: Account) -> list[str]:
        # The hash tag keeps the three keys of an account in one Redis Cluster slot.
        base = f"{self._prefix}:{{{account.key}|{account.bucket}}}"
        return [f"{base}:totals", f"{base}:res", f"{base}:exp"]

    def _run(self, script: Any, account: Account, args: Sequence[object]) -> Sequence[Any]:
        import redis

        try:
            reply: Sequence[Any] = script(keys=self.keys_for(account), args=list(args))
        except redis.RedisError as exc:
            raise LedgerError(f"Redis budget ledger unavailable: {type(exc).__name__}: {exc}") from exc
        return reply

    def __repr__(self) -> str:
        return f"RedisLedger({self._client!r})"


def _ttl(account: Account, now: float) -> int:
    if account.retain_until is None:
        return 0
    return max(1, math.ceil(account.retain_until - now))


def _totals(values: Sequence[Any]) -> Totals:
    spent_nano, reserved_nano, spent_tokens, reserved_tokens = (int(value) for value in values[:4])
    return Totals(spent_nano, reserved_nano, spent_tokens, reserved_tokens)

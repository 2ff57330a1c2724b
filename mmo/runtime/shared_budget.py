"""A profile's daily budget shared by every process through Redis (``MMO_STATE_URL``): the day's
spend is one counter on the server, so two processes cannot both take the last dollars.

The counter (integer micro-dollars, under ``mmo:spend:PROFILE:YYYY-MM-DD``, UTC, kept two days)
holds what every process has spent today plus the worst cases of the calls in flight. A call
reserves its worst case in one atomic script (refused, taking nothing, when it would pass the
cap) and, when it ends, the reservation is corrected to its actual cost. The day's first process
seeds the counter with what its run log holds for today (later processes' run logs are not added:
the counter already counts their spend from then on).
"""

from __future__ import annotations

from datetime import UTC, datetime

from mmo.runtime.redis_scripts import NANO, NOW_MS, RedisScripts, nano
from mmo.runtime.shared_run import KEEP_S, run_key

_MICRO = 1_000_000
_KEEP_S = 2 * 86_400

# KEYS: the day's counter. ARGV: cap, worst case, seed (micro-dollars), expiry (s).
# Returns {reserved (1/0), the day's committed spend after (or before a refusal)}.
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4]) end
local committed = tonumber(redis.call('GET', KEYS[1]))
if committed + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return {0, committed} end
return {1, redis.call('INCRBY', KEYS[1], ARGV[2])}
"""

_SETTLE_DAY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


class SharedDailyBudget:
    """One profile's daily spend on the Redis server."""

    def __init__(self, url: str, profile: str) -> None:
        self._server, self._profile = RedisScripts(url), profile

    def _key(self) -> str:
        return f"mmo:spend:{self._profile}:{datetime.now(UTC).date().isoformat()}"

    async def reserve(self, cap_usd: float, worst_usd: float, seed_usd: float) -> tuple[str | None, float]:
        """Reserve ``worst_usd`` of today's ``cap_usd``: the day's key when it fits (``None``
        when not), and the day's committed spend (after the reservation, or when refused)."""
        key = self._key()
        reserved, committed = await self._server.run(_RESERVE, [key], [_micro(cap_usd), _micro(worst_usd), _micro(seed_usd), _KEEP_S])
        return (key if reserved else None), int(committed) / _MICRO

    async def settle(self, key: str, delta_usd: float) -> None:
        """Correct a reservation on the day it was made: ``delta_usd`` = actual cost minus the
        worst case reserved."""
        if delta_usd:
            await self._server.run(_SETTLE_DAY, [key], [_micro(delta_usd)])

    async def aclose(self) -> None:
        await self._server.aclose()


def _micro(usd: float) -> int:
    return round(usd * _MICRO)


# KEYS: the run's cap hash {spent, <worker>: reserved}, the run's worker stats (``shared_run``).
# ARGV: worker, cap, worst case (nano-dollars), lease (ms), expiry (s). Reservations of a worker
# not heard from for a lease are dropped (it crashed: they would hold room forever).
# Returns {reserved (1/0), spent, reserved by live workers (this one's worst case included when reserved)}.
_RUN_RESERVE = NOW_MS + """
local fields = redis.call('HGETALL', KEYS[1])
local spent, held = 0, 0
for i = 1, #fields, 2 do
  if fields[i] == 'spent' then spent = tonumber(fields[i + 1])
  else
    local seen = tonumber(redis.call('HGET', KEYS[2], fields[i] .. ':seen') or '0')
    if fields[i] == ARGV[1] or now - seen <= tonumber(ARGV[4]) then held = held + tonumber(fields[i + 1])
    else redis.call('HDEL', KEYS[1], fields[i]) end
  end
end
local worst = tonumber(ARGV[3])
if spent + held + worst > tonumber(ARGV[2]) then return {0, spent, held} end
redis.call('HINCRBY', KEYS[1], ARGV[1], worst)
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, spent, held + worst}
"""

# KEYS: the run's cap hash. ARGV: worker, worst case reserved, actual cost (nano-dollars).
_RUN_SETTLE = """
redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[3])
return 0
"""


class SharedRunCap:
    """``--max-cost`` of a run shared by several workers (``mmo batch --shared``): the run's spend
    and the worst cases its workers' calls in flight hold, on the Redis server, so the cap holds
    across workers as it does across one worker's calls. A crashed worker's reservations stop
    counting once it has not been heard from for a lease (what its calls in flight cost is
    unknown: by that much, at most, the cap can be passed)."""

    def __init__(self, url: str, run_id: str, worker: str, lease_s: float) -> None:
        self._server, self._worker, self._lease_ms = RedisScripts(url), worker, max(int(lease_s * 1000), 1)
        self._keys = [run_key(run_id, "cap"), run_key(run_id, "stats")]

    async def reserve(self, cap_usd: float, worst_usd: float) -> tuple[bool, float, float]:
        """(reserved, the run's spend, the worst cases held by live workers' calls in flight)."""
        args = [self._worker, nano(cap_usd), nano(worst_usd), self._lease_ms, KEEP_S]
        reserved, spent, held = await self._server.run(_RUN_RESERVE, self._keys, args)
        return bool(reserved), int(spent) / NANO, int(held) / NANO

    async def settle(self, worst_usd: float, cost_usd: float) -> None:
        await self._server.run(_RUN_SETTLE, self._keys[:1], [self._worker, nano(worst_usd), nano(cost_usd)])

    async def aclose(self) -> None:
        await self._server.aclose()

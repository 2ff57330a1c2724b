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
from typing import Any

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


class SharedDailyBudget:
    """One profile's daily spend on the Redis server."""

    def __init__(self, url: str, profile: str) -> None:
        self._url, self._profile = url, profile
        self._client: Any = None
        self._reserve: Any = None

    def _key(self) -> str:
        return f"mmo:spend:{self._profile}:{datetime.now(UTC).date().isoformat()}"

    def _connected(self) -> Any:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(self._url)
            self._reserve = self._client.register_script(_RESERVE)
        return self._client

    async def reserve(self, cap_usd: float, worst_usd: float, seed_usd: float) -> tuple[str | None, float]:
        """Reserve ``worst_usd`` of today's ``cap_usd``: the day's key when it fits (``None``
        when not), and the day's committed spend (after the reservation, or when refused)."""
        self._connected()
        key = self._key()
        args = [_micro(cap_usd), _micro(worst_usd), _micro(seed_usd), _KEEP_S]
        reserved, committed = await self._reserve(keys=[key], args=args)
        return (key if reserved else None), int(committed) / _MICRO

    async def settle(self, key: str, delta_usd: float) -> None:
        """Correct a reservation on the day it was made: ``delta_usd`` = actual cost minus the
        worst case reserved."""
        if delta_usd:
            await self._connected().incrby(key, _micro(delta_usd))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _micro(usd: float) -> int:
    return round(usd * _MICRO)

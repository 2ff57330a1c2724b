"""Per-model rate limits shared by every process through Redis (``MMO_STATE_URL`` or ``mmo config
set state``): the rpm and tpm buckets and the Retry-After pauses of ``mmo.runtime.limits``, held
on the server so that three processes with ``rpm: 60`` send 60 requests a minute between them,
not 180.

Each check is one Lua script run on the server (atomic: no two processes can both take the last
token), timed by the server's own clock (``TIME``), so machines' clocks never matter. A bucket is
a hash ``{level, at}`` under ``mmo:limits:MODEL:rpm`` (and ``:tpm``), refilled continuously at
``capacity / 60`` per second and starting full, as the local bucket does. The script reserves
what a call needs from every bucket and answers how long the call must wait before it is sent
(a reservation: the level may go below zero, and the next caller's wait covers it), so a waiting
call makes one round trip, not one per retry; a wait longer than the caller may wait takes
nothing. The shared buckets refill 1 % slower than the limit: a request reaches the provider a
little after its reservation (the event loop, a connection), more so across machines, and
without a margin a provider's own 60-second window could see a request or two over the limit
plus the burst (measured at 600 rpm: 1,202 of 1,200; ``benchmarks/shared_limits.py``). A pause is a
key with a millisecond expiry: the script reports what is left of it. Keys expire two minutes
after their last use (a full bucket needs no state).

The client (``redis.asyncio``, the ``mmo[redis]`` extra) is made on first use, in the running
event loop, and closed with the session.
"""

from __future__ import annotations

from mmo.runtime.redis_scripts import RedisScripts

KEY_PREFIX = "mmo:limits:"
_IDLE_MS = 120_000

# KEYS: pause, then one key per bucket. ARGV: for each bucket, its capacity and the amount
# wanted; then how long the caller may wait (microseconds); then the keys' idle expiry (ms).
# Returns {wait_us, reserved}: reserved = 1 when the amounts were taken (the caller waits wait_us
# and then calls; the level may go below zero, so the next caller's wait covers this one), 0 when
# nothing was taken (a pause, or a wait longer than the caller may wait).
_TAKE = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local pause_ms = redis.call('PTTL', KEYS[1])
if pause_ms > 0 then return {pause_ms * 1000, 0} end
local patience_us = tonumber(ARGV[#ARGV - 1])
local wait_us = 0
local levels = {}
for i = 2, #KEYS do
  local capacity = tonumber(ARGV[(i - 2) * 2 + 1])
  local wanted = math.min(tonumber(ARGV[(i - 2) * 2 + 2]), capacity)
  local state = redis.call('HMGET', KEYS[i], 'level', 'at')
  local level = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now_us
  level = math.min(capacity, level + (now_us - at) * capacity * 0.99 / 60000000)
  levels[i] = {level, wanted}
  if wanted - level > 1e-9 then
    wait_us = math.max(wait_us, math.ceil((wanted - level) * 60000000 / (capacity * 0.99)))
  end
end
if wait_us > patience_us then return {wait_us, 0} end
for i = 2, #KEYS do
  redis.call('HSET', KEYS[i], 'level', tostring(levels[i][1] - levels[i][2]), 'at', tostring(now_us))
  redis.call('PEXPIRE', KEYS[i], ARGV[#ARGV])
end
return {wait_us, 1}
"""

# KEYS: one bucket. ARGV: capacity, delta (give back > 0, take more < 0), idle ms.
_ADJUST = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local capacity = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now_us
level = math.min(capacity, level + (now_us - at) * capacity * 0.99 / 60000000 + tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now_us))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
"""

# KEYS: pause. ARGV: milliseconds. A longer pause already set stays.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
"""


class SharedLimits:
    """The Redis side of every model's rpm / tpm buckets and pauses."""

    def __init__(self, url: str) -> None:
        self._server = RedisScripts(url)

    @property
    def round_trips(self) -> int:
        """Server calls made (the benchmark reports them per row)."""
        return self._server.round_trips

    async def reserve(self, model_id: str, buckets: list[tuple[str, float, float]], patience_s: float) -> tuple[float, bool]:
        """Reserve ``amount`` from each ``(name, capacity, amount)`` bucket of the model, all or
        none: the seconds to wait before calling, and whether the amounts were reserved (not when
        the model is paused, or the wait is longer than ``patience_s``)."""
        keys = [f"{KEY_PREFIX}{model_id}:pause", *(f"{KEY_PREFIX}{model_id}:{name}" for name, _, _ in buckets)]
        args: list[float | int] = [value for _, capacity, amount in buckets for value in (capacity, amount)]
        wait_us, reserved = await self._server.run(_TAKE, keys, [*args, int(max(patience_s, 0.0) * 1_000_000), _IDLE_MS])
        return int(wait_us) / 1_000_000, bool(reserved)

    async def adjust(self, model_id: str, name: str, capacity: float, delta: float) -> None:
        await self._server.run(_ADJUST, [f"{KEY_PREFIX}{model_id}:{name}"], [capacity, delta, _IDLE_MS])

    async def pause(self, model_id: str, seconds: float) -> None:
        await self._server.run(_PAUSE, [f"{KEY_PREFIX}{model_id}:pause"], [max(1, int(seconds * 1000))])

    async def aclose(self) -> None:
        await self._server.aclose()

"""One batch run worked on by several processes (on several machines) through Redis: which rows
each worker holds, and every finished row's record, written once.

A run's rows are *slots* ``0 .. total-1`` (the input's non-blank lines in order; every worker
reads the same input, so slot k is the same row everywhere). Its keys, under
``mmo:run:{RUN}:`` (the braces are a Redis Cluster hash tag: one run's keys live on one node):

* ``meta``: the run's fingerprint (input content, profile, parameters) and row count; a worker
  whose fingerprint differs is refused before it claims anything;
* ``next``: the next slot never handed out;
* ``claims`` (sorted set, slot -> lease expiry in the server's milliseconds) and ``owners``
  (slot -> worker): the rows held. A claim is a lease: a worker renews its leases while it holds
  them (a long call keeps its row), and a crashed worker's leases run out, so its rows go to the
  next worker that claims;
* ``rows`` (slot -> record): the finished rows, each written once (``HSETNX``): a row that two
  workers both finished (a lease that ran out under a slow worker) keeps the first record, and the
  second is counted as a duplicate (its cost is in the worker's spend, not lost);
* ``prior``: what rows run again (``--retry-errors``) cost before (nano-dollars), so the run's
  spend never forgets money paid;
* ``stats``: per worker, rows recorded, duplicates, spend (nano-dollars) and when it was last
  heard from; ``workers``: who each worker is (host, pid, start).

Every operation is one Lua script (atomic on the server, one round trip), timed by the server's
clock (``TIME``), so machines' clocks never matter. A claim hands out up to ``n`` rows at once:
expired leases first, then fresh slots. Keys expire ``KEEP_S`` after the last commit.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Iterator, Mapping, Sequence

from mmo.runtime.redis_scripts import NANO, NOW_MS, RedisScripts, is_redis_error, nano, state_server_failed

KEEP_S = 30 * 86_400
_PAGE = 1000
_KEYS = ("meta", "next", "claims", "owners", "rows", "stats", "workers", "prior")


# KEYS: meta, workers. ARGV: fingerprint, total, parts (JSON), worker, who (JSON), expiry (s).
# Returns the run's stored fingerprint and parts (this worker's when it is the first).
_JOIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'total', ARGV[2], 'parts', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
end
local stored = redis.call('HMGET', KEYS[1], 'fingerprint', 'parts')
if stored[1] == ARGV[1] then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
return stored
"""

# KEYS: next, claims, owners, rows, stats. ARGV: worker, n, total, lease (ms).
# Returns {slots claimed, rows finished, ms until the earliest lease held elsewhere runs out (-1: none)}.
_CLAIM = NOW_MS + """
local worker, wanted, total = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local lease_end = now + tonumber(ARGV[4])
local got = {}
for _, slot in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, wanted)) do
  if redis.call('HEXISTS', KEYS[4], slot) == 1 then
    redis.call('ZREM', KEYS[2], slot)
    redis.call('HDEL', KEYS[3], slot)
  else
    redis.call('ZADD', KEYS[2], lease_end, slot)
    redis.call('HSET', KEYS[3], slot, worker)
    got[#got + 1] = tonumber(slot)
  end
end
while #got < wanted do
  local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
  if slot >= total then break end
  redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], lease_end, slot)
  redis.call('HSET', KEYS[3], slot, worker)
  got[#got + 1] = slot
end
redis.call('HSET', KEYS[5], worker .. ':seen', now)
local wait = -1
if #got == 0 then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if first[2] then wait = math.max(tonumber(first[2]) - now, 0) end
end
return {got, redis.call('HLEN', KEYS[4]), wait}
"""

# KEYS: claims, owners, stats. ARGV: worker, lease (ms), slots...  Renews this worker's leases only.
_RENEW = NOW_MS + """
local lease_end = now + tonumber(ARGV[2])
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then redis.call('ZADD', KEYS[1], 'XX', lease_end, ARGV[i]) end
end
redis.call('HSET', KEYS[3], ARGV[1] .. ':seen', now)
return 0
"""

# KEYS: claims, owners. ARGV: worker, slots...  Gives back rows this worker held but did not
# finish: their leases end now, so the next claim hands them out first.
_RELEASE = """
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 0, ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
return 0
"""

# KEYS: rows, claims, owners, stats, meta, next, workers. ARGV: worker, spend (nano-dollars), expiry (s),
# then slot, record pairs. Returns {records written, duplicates, rows finished}.
_COMMIT = NOW_MS + """
local worker = ARGV[1]
local written, duplicates = 0, 0
for i = 4, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then written = written + 1 else duplicates = duplicates + 1 end
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
redis.call('HINCRBY', KEYS[4], worker .. ':rows', written)
redis.call('HINCRBY', KEYS[4], worker .. ':duplicates', duplicates)
redis.call('HINCRBY', KEYS[4], worker .. ':spent', ARGV[2])
redis.call('HSET', KEYS[4], worker .. ':seen', now)
for _, key in ipairs({KEYS[1], KEYS[4], KEYS[5], KEYS[6], KEYS[7]}) do redis.call('EXPIRE', key, ARGV[3]) end
return {written, duplicates, redis.call('HLEN', KEYS[1])}
"""


# KEYS: rows, claims, prior. ARGV: status, slots...  Rows whose record still has that status lose
# it (its cost kept in prior) and are claimable at once. Returns how many were put back.
_REQUEUE = """
local count = 0
for i = 2, #ARGV do
  local record = redis.call('HGET', KEYS[1], ARGV[i])
  if record then
    local decoded = cjson.decode(record)
    if decoded['status'] == ARGV[1] then
      local cost = decoded['cost_usd']
      if type(cost) == 'number' then redis.call('HINCRBY', KEYS[3], ARGV[i], math.floor(cost * 1e9 + 0.5)) end
      redis.call('HDEL', KEYS[1], ARGV[i])
      redis.call('ZADD', KEYS[2], 0, ARGV[i])
      count = count + 1
    end
  end
end
if count > 0 then redis.call('EXPIRE', KEYS[3], 2592000) end
return count
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a claim handed out: ``slots`` (possibly none), the run's finished rows, and, when
    nothing was handed out, how long until the earliest lease held elsewhere runs out
    (``None``: no row is held anywhere)."""

    slots: tuple[int, ...]
    finished: int
    next_expiry_s: float | None


@dataclass(frozen=True, slots=True)
class WorkerStats:
    worker: str
    who: Mapping[str, Any]  # host, pid, started
    rows: int  # records it wrote
    duplicates: int  # rows it finished after another worker had
    spent_usd: float
    seen_ms_ago: int | None  # since it was last heard from (server time)


def run_key(run_id: str, name: str) -> str:
    """One of a run's keys (``SharedRunCap`` keeps the run's cap beside them)."""
    return f"mmo:run:{{{run_id}}}:{name}"


def worker_name() -> str:
    """This process's name in a run: host, pid and a random tag (pids repeat across machines)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(2)}"


class SharedRun:
    """One worker's handle on a shared run. The asynchronous client (claims, commits) is made in
    the running event loop on first use; the synchronous one reads the records at the end."""

    def __init__(self, url: str, run_id: str, worker: str, *, total: int, lease_s: float) -> None:
        self.url, self.run_id, self.worker, self.total = url, run_id, worker, total
        self.lease_ms = max(int(lease_s * 1000), 1)
        self.keys = {name: run_key(run_id, name) for name in _KEYS}
        self._server = RedisScripts(url)

    @property
    def round_trips(self) -> int:
        return self._server.round_trips

    async def join(self, fingerprint: str, parts: Mapping[str, str]) -> dict[str, str] | None:
        """Join the run (made by the first worker): ``None`` when its fingerprint is this one,
        else the parts the run was made from."""
        who = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": datetime.now(UTC).isoformat(timespec="seconds")})
        args = [fingerprint, self.total, json.dumps(dict(parts)), self.worker, who, KEEP_S]
        stored, stored_parts = await self._server.run(_JOIN, [self.keys["meta"], self.keys["workers"]], args)
        if _text(stored) == fingerprint:
            return None
        loaded = json.loads(_text(stored_parts) or "{}")
        return loaded if isinstance(loaded, dict) else {}

    async def claim(self, n: int) -> Claimed:
        keys = [self.keys[name] for name in ("next", "claims", "owners", "rows", "stats")]
        slots, finished, wait = await self._server.run(_CLAIM, keys, [self.worker, n, self.total, self.lease_ms])
        return Claimed(tuple(int(slot) for slot in slots), int(finished), None if int(wait) < 0 else int(wait) / 1000)

    async def renew(self, slots: Sequence[int]) -> None:
        keys = [self.keys["claims"], self.keys["owners"], self.keys["stats"]]
        await self._server.run(_RENEW, keys, [self.worker, self.lease_ms, *slots])

    async def release(self, slots: Sequence[int]) -> None:
        if slots:
            await self._server.run(_RELEASE, [self.keys["claims"], self.keys["owners"]], [self.worker, *slots])

    async def commit(self, records: Sequence[tuple[int, str]], spent_usd: float) -> tuple[int, int, int]:
        """Write finished rows' records: (written, duplicates, the run's finished rows)."""
        keys = [self.keys[name] for name in ("rows", "claims", "owners", "stats", "meta", "next", "workers")]
        args: list[Any] = [self.worker, nano(spent_usd), KEEP_S]
        for slot, record in records:
            args += [slot, record]
        written, duplicates, finished = await self._server.run(_COMMIT, keys, args)
        return int(written), int(duplicates), int(finished)

    async def requeue(self, slots: Sequence[int], status: str) -> int:
        """Put rows finished with ``status`` back to be run again (``--retry-errors``)."""
        if not slots:
            return 0
        keys = [self.keys["rows"], self.keys["claims"], self.keys["prior"]]
        return int(await self._server.run(_REQUEUE, keys, [status, *slots]))

    async def aclose(self) -> None:
        await self._server.aclose()

    # --- reading, at the end (synchronous) ----------------------------------------------------

    def records(self) -> Iterator[tuple[int, str, float]]:
        """Every finished row's record and what its earlier runs cost, in slot order, a page at a
        time (memory stays flat)."""
        with _sync_client(self.url) as client:
            for start in range(0, self.total, _PAGE):
                slots = list(range(start, min(start + _PAGE, self.total)))
                pipe = client.pipeline(transaction=False)
                pipe.hmget(self.keys["rows"], slots)
                pipe.hmget(self.keys["prior"], slots)
                values, priors = pipe.execute()
                for slot, value, prior in zip(slots, values, priors, strict=True):
                    if value is not None:
                        yield slot, _text(value), int(prior or 0) / NANO

    def workers(self) -> list[WorkerStats]:
        with _sync_client(self.url) as client:
            who = {_text(k): json.loads(_text(v)) for k, v in client.hgetall(self.keys["workers"]).items()}
            stats = {_text(k): int(v) for k, v in client.hgetall(self.keys["stats"]).items()}
            seconds, micros = client.time()
        now = int(seconds) * 1000 + int(micros) // 1000
        result = []
        for worker in sorted(who):
            seen = stats.get(f"{worker}:seen")
            result.append(WorkerStats(
                worker, who[worker], stats.get(f"{worker}:rows", 0), stats.get(f"{worker}:duplicates", 0),
                stats.get(f"{worker}:spent", 0) / NANO, None if seen is None else max(now - seen, 0),
            ))
        return result


@contextmanager
def _sync_client(url: str) -> Iterator[Any]:
    """A synchronous client for one read, closed afterwards."""
    from redis import Redis

    client = Redis.from_url(url)
    try:
        yield client
    except Exception as error:
        if is_redis_error(error):
            raise state_server_failed(url, error) from None
        raise
    finally:
        client.close()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value) if value is not None else ""

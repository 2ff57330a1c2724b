"""Circuit state shared by every process through Redis (``MMO_STATE_URL``): when a model's circuit
opens in one process (``breaker``: failures in a row), every process stops calling it for the
cooldown, as if its own circuit had opened, so three workers do not each pay for five failures
before they stop.

An opening is told once, not asked on every call: it is kept as a key with the cooldown as its
expiry (``mmo:circuit:MODEL``, for processes that start during the cooldown) and published on ``mmo:circuits``; each process listens on that channel
in one background task, started with its first call, and opens its own breaker for the model
when told. So a call costs no round trip for this; an opening reaches the others within a
moment (a process reads the circuits open when it starts listening: one round trip at its
first call). Each process then decides its own half-open trial. A process's own openings come back to
it on the channel and are ignored (``origin``).

Sharing circuits degrades instead of failing: when the server cannot be reached each process
keeps its own circuits (one warning), while the rate limits and budgets kept there fail the calls
that need them (``StateServerFailed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any, Callable

from mmo.runtime.redis_scripts import RedisScripts, is_redis_error, state_server_failed

CHANNEL = "mmo:circuits"
KEY_PREFIX = "mmo:circuit:"

# KEYS: the model's circuit key. ARGV: cooldown (ms), the message published.
_OPEN = """
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
redis.call('PUBLISH', '""" + CHANNEL + """', ARGV[2])
return 0
"""

Opened = Callable[[str, float, int], None]  # model id, seconds left open, failures that opened it


class SharedCircuits:
    def __init__(self, url: str, warn: Callable[[str], None] = lambda message: None) -> None:
        self._server, self._warn = RedisScripts(url), warn
        self._origin = secrets.token_hex(8)
        self._listening: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    async def opened(self, model_id: str, cooldown_s: float, failures: int) -> None:
        """Tell every process that ``model_id``'s circuit opened here for ``cooldown_s``."""
        message = json.dumps({"model": model_id, "cooldown_ms": int(cooldown_s * 1000), "failures": failures, "origin": self._origin})
        await self._server.run(_OPEN, [KEY_PREFIX + model_id], [max(int(cooldown_s * 1000), 1), message])

    async def listen(self, on_open: Opened) -> None:
        """Listen from now on (the first call subscribes and reads the circuits open now, which
        the callers meanwhile wait for; later calls return at once)."""
        if self._listening is not None:
            return
        async with self._starting:
            if self._listening is not None:
                return
            from redis.asyncio import Redis

            client = Redis.from_url(self._server.url)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(CHANNEL)  # before the scan: no opening falls between the two
                await self._open_now(client, on_open)
            except Exception as error:
                await client.aclose()
                if not is_redis_error(error):
                    raise
                self._warn(f"circuit openings cannot be shared ({state_server_failed(self._server.url, error)}): each process keeps its own")
                self._listening = asyncio.get_running_loop().create_task(asyncio.sleep(0))  # tried: not again
                return
            self._listening = asyncio.get_running_loop().create_task(self._listen(client, pubsub, on_open))

    async def _listen(self, client: Any, pubsub: Any, on_open: Opened) -> None:
        try:
            async for message in pubsub.listen():
                self._apply(message.get("data"), None, on_open)
        except Exception:  # the server went away: circuits stay per process (the limits' own calls report it)
            return
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _open_now(self, client: Any, on_open: Opened) -> None:
        """Circuits opened before this process listened, with what is left of their cooldowns."""
        async for key in client.scan_iter(match=KEY_PREFIX + "*", count=100):
            pipe = client.pipeline(transaction=False)
            pipe.get(key)
            pipe.pttl(key)
            value, left_ms = await pipe.execute()
            if value is not None and left_ms and left_ms > 0:
                self._apply(value, left_ms, on_open)

    def _apply(self, data: Any, left_ms: int | None, on_open: Opened) -> None:
        try:
            told = json.loads(data)
            if told.get("origin") == self._origin:
                return
            on_open(str(told["model"]), (left_ms if left_ms is not None else int(told["cooldown_ms"])) / 1000, int(told["failures"]))
        except (ValueError, TypeError, KeyError):
            return  # not one of ours

    async def aclose(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None
        await self._server.aclose()

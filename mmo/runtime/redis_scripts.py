"""The one way mmo talks to its shared-state server (``MMO_STATE_URL``): Lua scripts, each one
atomic on the server and one round trip, through one asynchronous client made on first use in
the running event loop (the ``mmo[redis]`` extra) and closed with the session.

A server that cannot be reached, or that refuses a command, is a ``StateServerFailed`` naming it
(its password masked): what is shared through it (limits, budgets, a shared run) cannot be kept,
so the caller stops rather than going on alone. ``round_trips`` counts the calls made (the
benchmarks report them per row).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from mmo.core.errors import StateServerFailed

# A script's first line when it needs the time: ``now``, the server's clock in milliseconds (never a
# machine's own, which differ).
NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
NANO = 1_000_000_000  # money kept on the server in nano-dollars: one row of a cheap model costs under a micro-dollar


def nano(usd: float) -> int:
    return round(usd * NANO)


def masked_url(url: str) -> str:
    """``url`` with any password masked, for showing."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class RedisScripts:
    def __init__(self, url: str) -> None:
        self.url = url
        self.round_trips = 0
        self._client: Any = None
        self._scripts: dict[str, Any] = {}

    async def run(self, body: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the script ``body`` (registered once, sent by its hash after that)."""
        self.round_trips += 1
        try:
            return await self._script(body)(keys=list(keys), args=list(args))
        except Exception as error:
            if is_redis_error(error):
                raise state_server_failed(self.url, error) from None
            raise

    def _script(self, body: str) -> Any:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(self.url)
        script = self._scripts.get(body)
        if script is None:
            script = self._scripts[body] = self._client.register_script(body)
        return script

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            self._scripts.clear()
            await client.aclose()


def state_server_failed(url: str, error: BaseException) -> StateServerFailed:
    return StateServerFailed(
        f"the shared-state server {masked_url(url)} (MMO_STATE_URL) failed: {error}; "
        "check that it runs and is reachable, or unset MMO_STATE_URL to keep state on this machine"
    )


def is_redis_error(error: BaseException) -> bool:
    from redis.exceptions import RedisError

    return isinstance(error, (RedisError, OSError))

"""The response cache shared by every process through Redis (``MMO_STATE_URL``): a second tier
behind each process's own SQLite cache (``cache.ResponseCache``).

A lookup that misses locally asks the server; an answer found there is kept locally too. Every
answer stored locally is also stored on the server (``SET`` with a 30-day expiry, the same JSON
the local cache keeps), so one worker's answer is every worker's cache hit. The cache's calls are
synchronous (they sit inside the call path, between the guards and the provider), so this tier
uses the synchronous client with short timeouts: a slow or unreachable server costs at most a
fraction of a second once, then the tier is turned off for the run with one warning (the local
cache goes on). Keys are the local cache's keys (a hash of provider, model and request), under
``mmo:cache:``; an answer never holds a key.
"""

from __future__ import annotations

from typing import Any, Callable

KEY_PREFIX = "mmo:cache:"
EXPIRE_S = 30 * 86_400
TIMEOUT_S = 0.5


class SharedAnswers:
    def __init__(self, url: str, warn: Callable[[str], None]) -> None:
        self._url, self._warn = url, warn
        self._client: Any = None
        self.usable = True

    def _connected(self) -> Any:
        if self._client is None:
            from redis import Redis

            self._client = Redis.from_url(self._url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        return self._client

    def get(self, key: str) -> str | None:
        if not self.usable:
            return None
        try:
            found = self._connected().get(KEY_PREFIX + key)
        except Exception as error:  # any failure of the server or the connection: off for the run
            self._off(error)
            return None
        return None if found is None else bytes(found).decode("utf-8")

    def set(self, key: str, value: str) -> None:
        if not self.usable:
            return
        try:
            self._connected().set(KEY_PREFIX + key, value.encode("utf-8"), ex=EXPIRE_S)
        except Exception as error:
            self._off(error)

    def _off(self, error: Exception) -> None:
        self.usable = False
        self._warn(f"the shared response cache cannot be used ({type(error).__name__}: {error}); the local cache goes on for this run")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

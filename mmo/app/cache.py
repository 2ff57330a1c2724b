"""The ``cache`` use cases: the response cache's numbers, and clearing it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmo.app.settings import AppEnv

if TYPE_CHECKING:
    from mmo.runtime.cache import CacheStats


def cache_stats(env: AppEnv) -> CacheStats:
    from mmo.runtime.cache import ResponseCache

    with ResponseCache(env.paths.response_cache_dir) as cache:
        return cache.stats()


def clear_cache(env: AppEnv) -> int:
    """Delete every cached response; how many there were."""
    from mmo.runtime.cache import ResponseCache

    with ResponseCache(env.paths.response_cache_dir) as cache:
        return cache.clear()

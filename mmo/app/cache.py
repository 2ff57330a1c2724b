"""The ``cache`` use cases: the response cache's numbers, and clearing it.

Both work whatever state the cache file is in: a damaged file is set aside and rebuilt (``stats``
says so; ``clear`` removes it with everything else), and where mmo cannot write (a read-only
``MMO_HOME``) ``stats`` reads the file as it is while ``clear`` names the file and the fix.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from mmo.app.settings import AppEnv
from mmo.core.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from mmo.runtime.cache import CacheStats


@dataclass(frozen=True, slots=True)
class CacheCleared:
    entries: int  # cached answers removed
    damaged_files: int  # damaged cache files (set aside now or earlier) removed


def cache_stats(env: AppEnv, on_warning: Callable[[str], None] | None = None) -> CacheStats:
    from mmo.runtime.cache import ResponseCache

    directory = env.paths.response_cache_dir
    try:
        with ResponseCache(directory, on_warning=on_warning) as cache:
            return cache.stats()
    except (sqlite3.Error, OSError) as error:  # cannot write there: read what is there
        return _read_only_stats(directory, error)


def _read_only_stats(directory: Path, opening: BaseException) -> CacheStats:
    from mmo.runtime.answer_store import FILE_NAME, AnswerStore
    from mmo.runtime.cache import CacheStats
    from mmo.runtime.sqlite_files import file_problem

    if not (directory / FILE_NAME).exists():
        return CacheStats(directory, 0, 0, 0, 0)
    try:
        store = AnswerStore.reader(directory)
    except sqlite3.Error as error:
        raise ConfigError(f"cannot read the response cache {file_problem(directory / FILE_NAME, error)}") from None
    try:
        hits, misses = store.counts()
        return CacheStats(directory, store.count(), store.size_bytes(), hits, misses)
    except sqlite3.Error:
        raise ConfigError(f"cannot read the response cache {file_problem(directory / FILE_NAME, opening)}") from None
    finally:
        store.close()


def clear_cache(env: AppEnv) -> CacheCleared:
    """Delete every cached response, and any damaged cache file."""
    from mmo.runtime.answer_store import FILE_NAME
    from mmo.runtime.cache import ResponseCache
    from mmo.runtime.sqlite_files import file_problem

    directory = env.paths.response_cache_dir
    damaged_before = len(list(directory.glob(f"{FILE_NAME}.corrupt-*")))
    try:
        with ResponseCache(directory) as cache:
            damaged = damaged_before + len(cache.set_aside)
            return CacheCleared(cache.clear(), damaged)
    except (sqlite3.Error, OSError) as error:
        raise ConfigError(f"cannot clear the response cache {file_problem(directory / FILE_NAME, error)}") from None

"""The response cache: completions on disk (diskcache), keyed by everything that shapes an answer.

The key is a SHA-256 over canonical JSON of the provider's identity (kind, base URL), the model,
every message and every output-affecting parameter, provider extras included; a parameter left
out of the key would hand back an answer to a different question. It never holds the API key:
``Provider.identity()`` never carries one, and nothing here reads keys.

Values are stored as JSON text (not pickles), so a cache directory is inspectable and loading it
cannot run code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from mmo.core.codec import completion_from_dict, completion_to_dict
from mmo.core.types import Completion, Request

if TYPE_CHECKING:
    import diskcache

# Bump when the key's inputs or the stored value's shape change: old entries then simply miss.
KEY_SCHEMA = 1
CACHEABLE_FINISH_REASONS = frozenset({"stop", "length", "tool_calls"})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(provider_identity: Mapping[str, Any], model: str, request: Request) -> str:
    """SHA-256 hex of everything that changes the output. Request ``metadata`` and ``tags`` never
    reach a provider and ``timeout_s`` does not change the answer, so they are not part of it."""
    payload = {
        "schema": KEY_SCHEMA,
        "provider": dict(provider_identity),
        "model": model,
        "messages": [m.to_dict() for m in request.messages],
        "params": request.params.output_affecting(),
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CacheStats:
    directory: Path
    entries: int
    size_bytes: int
    hits: int
    misses: int


class ResponseCache:
    """Completions by cache key. Safe to share between processes (diskcache uses SQLite)."""

    __slots__ = ("directory", "_cache")

    def __init__(self, directory: Path) -> None:
        import diskcache

        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._cache: diskcache.Cache = diskcache.Cache(str(directory), statistics=True)

    def get(self, key: str) -> Completion | None:
        """The stored completion marked ``cached=True`` (latency as it was measured), or ``None``."""
        stored = self._cache.get(key)
        if not isinstance(stored, str):
            return None
        try:
            completion = completion_from_dict(json.loads(stored))
        except (ValueError, KeyError, TypeError):
            # An unreadable entry is a miss, and is dropped so it cannot keep missing.
            self._cache.delete(key)
            return None
        return completion.with_changes(cached=True)

    def set(self, key: str, completion: Completion) -> bool:
        """Store a finished answer; returns ``False`` (storing nothing) for a content-filtered or
        otherwise abnormal one, which a retry might answer differently."""
        if completion.finish_reason not in CACHEABLE_FINISH_REASONS:
            return False
        data = completion_to_dict(completion, with_trace=False)
        data["cached"] = False
        self._cache.set(key, canonical_json(data))
        return True

    def stats(self) -> CacheStats:
        hits, misses = self._cache.stats(enable=True)
        return CacheStats(self.directory, len(self._cache), self._cache.volume(), hits, misses)

    def clear(self) -> int:
        """Remove every entry and reset the hit/miss counts; returns how many entries went."""
        removed = self._cache.clear()
        self._cache.stats(enable=True, reset=True)
        return removed

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

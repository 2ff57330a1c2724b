"""The response cache: completions on disk (``AnswerStore``), keyed by everything that shapes an
answer.

The key is a SHA-256 over canonical JSON of the provider's identity (kind, base URL, a hash of its
profile headers), the model, every message and every output-affecting parameter, provider extras
included; a setting left out of the key would hand back an answer to a different question. It never holds the API key:
``Provider.identity()`` never carries one, and nothing here reads keys.

Values are stored as JSON text (not pickles), so a cache file is inspectable and loading it
cannot run code.

Speed (a batch looks up and stores one entry per row):

* hits and misses are counted here and added to the file's totals on close (a process killed
  first loses only its counts), so a ``get`` is one indexed read;
* a transaction per store costs more than the store itself, so stores are written in groups of
  ``WRITE_GROUP`` in one transaction, or when the oldest has waited ``WRITE_DELAY_S`` (checked at
  the next store), and always on ``flush``/``close``; until then ``get`` finds them in memory, and
  other processes do not see them yet. A process killed first loses those cache entries only;
* a key hashes the canonical JSON of the messages, the model, the parameters and the provider;
  everything but the messages is the same for every row of a batch, so ``CacheKeys`` encodes that
  part once per (model, parameters) and only the messages per call (12.5 -> 5.6 µs per key),
  giving exactly the key ``cache_key`` computes;
* eviction down to the size limit runs every ``CULL_EVERY`` stores and on close;
* memory stays bounded: no memory map, a 4 MiB page cache.

A cache only saves money and time; it never fails a call. A damaged file is set aside and
rebuilt (``AnswerStore``), with a warning; a file that cannot be read or written any more (disk
full, locked past the busy timeout, read-only) turns the cache off for the rest of the session,
with a warning naming the file and the fix (``on_warning``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mmo.core.codec import completion_from_dict, completion_to_dict
from mmo.core.types import Completion, Message, Params, Request
from mmo.runtime.answer_store import SIZE_LIMIT, AnswerStore
from mmo.runtime.sqlite_files import file_problem, is_damaged

if TYPE_CHECKING:
    from mmo.runtime.shared_cache import SharedAnswers

# Bump when the key's inputs or the stored value's shape change: old entries then simply miss.
KEY_SCHEMA = 1
CACHEABLE_FINISH_REASONS = frozenset({"stop", "length", "tool_calls"})
CULL_EVERY = 1000  # stores between two evictions down to the size limit (1 GiB by default)
WRITE_GROUP = 256  # stores written in one transaction
WRITE_DELAY_S = 1.0  # the longest a store waits for its group (checked at the next store)


# One encoder for every call: ``json.dumps`` with options builds a new JSONEncoder each time
# (about half the cost of encoding a cache key's messages); the text is the same.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_json_string = json.encoder.encode_basestring  # how that encoder writes a string (ensure_ascii=False)


# A stored answer is read back, never compared as text: no need to sort its keys.
_VALUE_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: Any) -> str:
    return _CANONICAL(value)


def cache_key(provider_identity: Mapping[str, Any], model: str, request: Request) -> str:
    """SHA-256 hex of everything that changes the output. Request ``metadata`` and ``tags`` never
    reach a provider and ``timeout_s`` does not change the answer, so they are not part of it.

    The hashed text is the canonical JSON of ``{"messages", "model", "params", "provider",
    "schema"}``. Sorted, "messages" comes first, so the text is the messages followed by a tail
    that depends only on the provider, the model and the parameters."""
    return _key(_messages_json(request.messages), _key_tail(provider_identity, model, request.params))


def _key(messages: str, tail: str) -> str:
    return hashlib.sha256(('{"messages":' + messages + "," + tail).encode("utf-8")).hexdigest()


def _messages_json(messages: tuple[Message, ...]) -> str:
    """``canonical_json([m.to_dict() for m in messages])``. A message of a role and a text only
    (nearly all) is written directly, as the encoder writes it: its keys sorted (``content``,
    ``role``), its strings escaped by the same function (``ensure_ascii=False``)."""
    parts: list[str] = []
    for m in messages:
        if m.tool_calls or m.images or m.tool_call_id is not None or m.name is not None or type(m.content) is not str or type(m.role) is not str:
            return canonical_json([m.to_dict() for m in messages])
        parts.append('{"content":' + _json_string(m.content) + ',"role":' + _json_string(m.role) + "}")
    return "[" + ",".join(parts) + "]"


def _key_tail(provider_identity: Mapping[str, Any], model: str, params: Params) -> str:
    """The canonical JSON of the key's payload without its messages, minus the opening brace."""
    payload = {"model": model, "params": params.output_affecting(), "provider": dict(provider_identity), "schema": KEY_SCHEMA}
    return canonical_json(payload)[1:]


class CacheKeys:
    """``cache_key`` for one session: the tail of a key (provider, model, parameters) is encoded
    once per ``Params`` object and model (a batch asks with the same ``Params`` on every row) and
    checked by identity, so only the messages are encoded per call. At most ``limit`` tails."""

    __slots__ = ("_tails", "_limit")

    def __init__(self, limit: int = 256) -> None:
        self._tails: dict[tuple[int, str], tuple[Params, Mapping[str, Any], str]] = {}
        self._limit = limit

    def __call__(self, provider_identity: Mapping[str, Any], model: str, request: Request) -> str:
        params = request.params
        memo = (id(params), model)
        found = self._tails.get(memo)
        if found is None or found[0] is not params or found[1] != provider_identity:
            if len(self._tails) >= self._limit:
                self._tails.clear()
            found = self._tails[memo] = (params, dict(provider_identity), _key_tail(provider_identity, model, params))
        return _key(_messages_json(request.messages), found[2])


def _ignore(message: str) -> None:
    return None


def _set_aside_warning(path: Path, aside: Path | None) -> str:
    kept = f": moved aside to {aside.name} (delete it, or `mmo cache clear`, once you no longer need it)" if aside is not None else ""
    return f"the response cache {path} was damaged and was started anew{kept}"


@dataclass(frozen=True, slots=True)
class CacheStats:
    directory: Path
    entries: int
    size_bytes: int
    hits: int
    misses: int


class ResponseCache:
    """Completions by cache key. Safe to share between processes (``AnswerStore``, SQLite)."""

    __slots__ = ("directory", "key", "_store", "_hits", "_misses", "_pending", "_pending_since", "_since_cull", "_warn", "_usable", "shared")

    def __init__(self, directory: Path, size_limit: int = SIZE_LIMIT, on_warning: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.shared: SharedAnswers | None = None  # a second tier on a Redis server (``shared_cache``)
        self.key = CacheKeys()  # the cache key of a call, as ``cache_key`` computes it
        self._warn = on_warning or _ignore
        self._store = AnswerStore(directory, size_limit)
        for aside in self._store.set_aside:
            self._warn(_set_aside_warning(self._store.path, aside))
        self._usable = True
        self._hits = self._misses = self._since_cull = 0
        self._pending: dict[str, str] = {}
        self._pending_since = 0.0

    @property
    def set_aside(self) -> list[Path]:
        """Damaged cache files moved aside (and kept) while this cache was open."""
        return list(self._store.set_aside)

    def _failed(self, error: sqlite3.Error) -> None:
        """A damaged file is set aside and rebuilt; any other failure turns the cache off."""
        if is_damaged(error):
            try:
                aside = self._store.rebuild()
            except (sqlite3.Error, OSError) as again:
                error = again if isinstance(again, sqlite3.Error) else error
            else:
                self._warn(_set_aside_warning(self._store.path, aside))
                return
        self._usable = False
        self._pending.clear()
        self._warn(f"the response cache cannot be used: {file_problem(self._store.path, error)}; answers are not cached for the rest of this run")

    def get(self, key: str) -> Completion | None:
        """The stored completion marked ``cached=True`` (latency as it was measured), or ``None``."""
        stored = self._pending.get(key)
        if stored is None and self._usable:
            try:
                stored = self._store.get(key)
            except sqlite3.Error as error:
                self._failed(error)
        if stored is None and self.shared is not None:
            stored = self.shared.get(key)
            if stored is not None and self._usable:
                self._pending[key] = stored  # kept locally too
        if stored is None:
            self._misses += 1
            return None
        try:
            data = json.loads(stored)
            data["cached"] = True
            completion = completion_from_dict(data)
        except (ValueError, KeyError, TypeError):
            # An unreadable entry is a miss, and is dropped so it cannot keep missing.
            self._pending.pop(key, None)
            self._delete(key)
            self._misses += 1
            return None
        self._hits += 1
        return completion

    def set(self, key: str, completion: Completion) -> bool:
        """Store a finished answer; returns ``False`` (storing nothing) for a content-filtered or
        otherwise abnormal one, which a retry might answer differently."""
        if completion.finish_reason not in CACHEABLE_FINISH_REASONS or not self._usable:
            return False
        data = completion_to_dict(completion, with_trace=False)
        data["cached"] = False
        now = time.monotonic()
        if not self._pending:
            self._pending_since = now
        self._pending[key] = value = _VALUE_JSON(data)
        if self.shared is not None:
            self.shared.set(key, value)
        if len(self._pending) >= WRITE_GROUP or now - self._pending_since >= WRITE_DELAY_S:
            self.flush()
        return True

    def flush(self) -> None:
        """Write the stores still pending, in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        try:
            self._store.put_many(pending.items())
        except sqlite3.Error as error:
            self._failed(error)
            return
        self._since_cull += len(pending)
        if self._since_cull >= CULL_EVERY:
            self._cull()

    def _delete(self, key: str) -> None:
        try:
            self._store.delete(key)
        except sqlite3.Error as error:
            self._failed(error)

    def stats(self) -> CacheStats:
        self.flush()
        self._save_counts()
        try:
            return self._stats()
        except sqlite3.DatabaseError as error:
            if not is_damaged(error):
                raise
            self._failed(error)  # set aside and rebuilt, with a warning: the numbers of the new file
            return self._stats()

    def _stats(self) -> CacheStats:
        hits, misses = self._store.counts()
        return CacheStats(self.directory, self._store.count(), self._store.size_bytes(), hits, misses)

    def clear(self) -> int:
        """Remove every entry and reset the hit/miss counts; returns how many entries went. A file
        found damaged is replaced by an empty one; damaged files set aside (now or earlier) are
        removed too (``set_aside`` lists those of this session)."""
        self._pending.clear()
        self._hits = self._misses = 0
        try:
            removed = self._store.clear()
        except sqlite3.DatabaseError as error:
            if not is_damaged(error):
                raise
            self._store.rebuild()
            removed = 0
        for aside in self.directory.glob(f"{self._store.path.name}.corrupt-*"):
            aside.unlink(missing_ok=True)
        return removed

    def close(self) -> None:
        self.flush()
        self._save_counts()
        if self._since_cull:
            self._cull()
        self._store.close()
        if self.shared is not None:
            self.shared.close()

    def _cull(self) -> None:
        self._since_cull = 0
        if not self._usable:
            return
        try:
            self._store.evict()
        except sqlite3.Error as error:
            self._failed(error)

    def _save_counts(self) -> None:
        """Add this instance's hits and misses to the directory's totals, in one transaction (other
        processes may be adding theirs)."""
        if not (self._hits or self._misses) or not self._usable:
            return
        try:
            self._store.add_counts(self._hits, self._misses)
        except sqlite3.Error as error:
            self._failed(error)
        self._hits = self._misses = 0

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The response cache counts hits and misses in memory and adds them to the directory's totals on
close, writes stores in groups (one transaction each), and evicts in bulk (every ``CULL_EVERY``
stores and on close) instead of in every store."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmo.core.types import Completion
from mmo.runtime.answer_store import AnswerStore
from mmo.runtime.cache import CULL_EVERY, WRITE_GROUP, ResponseCache


def answer(text: str = "4") -> Completion:
    return Completion(text=text, model_id="openai:gpt-4o")


def test_counts_of_every_instance_add_up_across_closes(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    with ResponseCache(directory) as first:
        first.set("a", answer())
        first.get("a")
        first.get("nope")
    with ResponseCache(directory) as second, ResponseCache(directory) as third:
        second.get("a")
        third.get("a")
        third.get("gone")
    stats = ResponseCache(directory).stats()
    assert (stats.hits, stats.misses) == (3, 2)


def test_an_open_cache_reports_its_own_counts_too(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "responses") as cache:
        cache.set("a", answer())
        cache.get("a")
        assert (cache.stats().hits, cache.stats().misses) == (1, 0)
        cache.get("b")
        assert (cache.stats().hits, cache.stats().misses) == (1, 1)


def test_an_unreadable_entry_counts_as_a_miss(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    AnswerStore(directory).put_many([("bad", "{not json")])
    with ResponseCache(directory) as cache:
        assert cache.get("bad") is None
        assert cache.stats().misses == 1


def test_entries_are_still_evicted_down_to_the_size_limit(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    filler = "x" * 2000
    with ResponseCache(directory, size_limit=64 * 1024) as cache:
        for n in range(200):  # ~400 KB: far above the limit
            cache.set(f"k{n}", answer(filler + str(n)))
        assert cache.stats().entries == 200  # nothing evicted while storing
    with ResponseCache(directory, size_limit=64 * 1024) as reopened:
        assert 0 < reopened.stats().entries < 200  # evicted on close, the newest kept
        assert reopened.get("k199") is not None and reopened.get("k0") is None
        assert reopened.stats().size_bytes <= 64 * 1024


def test_a_long_run_evicts_every_cull_every_stores(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    with ResponseCache(directory, size_limit=64 * 1024) as cache:
        for n in range(CULL_EVERY):
            cache.set(f"k{n}", answer("y" * 500 + str(n)))
        assert cache.stats().entries < CULL_EVERY  # evicted without closing


# --- stores are written in groups ----------------------------------------------------------------


def test_a_store_is_found_at_once_by_its_own_cache_and_by_others_once_written(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    with ResponseCache(directory) as writer, ResponseCache(directory) as reader:
        writer.set("a", answer("4"))
        assert writer.get("a") is not None and writer.get("a").text == "4"  # type: ignore[union-attr]
        assert reader.get("a") is None  # still pending: not yet in the directory
        writer.flush()
        assert reader.get("a") is not None
    with ResponseCache(directory) as writer:
        writer.set("b", answer("5"))
    with ResponseCache(directory) as reader:  # closing wrote it
        assert reader.get("b") is not None and reader.get("b").text == "5"  # type: ignore[union-attr]


def test_a_full_group_is_written_without_waiting(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    with ResponseCache(directory) as writer, ResponseCache(directory) as reader:
        for n in range(WRITE_GROUP):
            writer.set(f"k{n}", answer(str(n)))
        assert reader.get(f"k{WRITE_GROUP - 1}") is not None
        assert reader.stats().entries == WRITE_GROUP


def test_a_store_older_than_the_delay_is_written_at_the_next_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mmo.runtime.cache as cache_module

    monkeypatch.setattr(cache_module, "WRITE_DELAY_S", 0.0)
    directory = tmp_path / "responses"
    with ResponseCache(directory) as writer, ResponseCache(directory) as reader:
        writer.set("a", answer())
        writer.set("b", answer())
        assert reader.get("a") is not None and reader.get("b") is not None


def test_clear_drops_pending_stores_too(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "responses") as cache:
        cache.set("a", answer())
        cache.clear()
        assert cache.get("a") is None
        assert cache.stats().entries == 0

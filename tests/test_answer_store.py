"""The response cache's file: answers by key in SQLite, shared by processes, evicted oldest first,
and a cache that diskcache wrote (mmo's earlier format) imported on first open."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import diskcache
import pytest

from mmo.core.types import Completion
from mmo.runtime.answer_store import FILE_NAME, AnswerStore
from mmo.runtime.cache import ResponseCache


def answer_json(text: str) -> str:
    return json.dumps({"text": text, "model_id": "openai:gpt-4o"})


def test_answers_and_counts_survive_reopening(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path)
    store.put_many([("a", "1"), ("b", "2")])
    store.put_many([("a", "3")])  # stored again: replaced, not duplicated
    store.add_counts(2, 1)
    store.close()
    again = AnswerStore(tmp_path)
    assert (again.get("a"), again.get("b"), again.get("c")) == ("3", "2", None)
    assert again.count() == 2 and again.counts() == (2, 1)
    again.add_counts(1, 0)
    assert again.counts() == (3, 1)
    assert again.clear() == 2 and again.count() == 0 and again.counts() == (0, 0)


def test_eviction_removes_the_oldest_stores_first(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path, size_limit=100 * 1024)
    store.put_many((f"k{n}", "x" * 1000) for n in range(300))
    store.put_many([("k0", "y" * 1000)])  # stored again: now the newest
    assert store.evict() > 0
    assert store.size_bytes() <= 100 * 1024
    assert store.get("k0") is not None and store.get("k1") is None and store.get("k299") is not None


def test_two_processes_write_the_same_file(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from mmo.runtime.answer_store import AnswerStore
        store = AnswerStore(Path({str(tmp_path)!r}))
        for n in range(200):
            store.put_many([(f"{{sys.argv[1]}}-{{n}}", "v")])
            store.add_counts(1, 0)
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("p", "q")]
    assert [w.wait(60) for w in writers] == [0, 0]
    store = AnswerStore(tmp_path)
    assert store.count() == 400 and store.counts() == (400, 0)


def _diskcache_directory(directory: Path) -> None:
    """A cache as mmo wrote it with diskcache: JSON text values, a large one in a file of its own."""
    with diskcache.Cache(str(directory)) as old:
        old.set("small", answer_json("4"))
        old.set("large", answer_json("z" * 50_000))  # past diskcache's 32 KB: stored in a file
        old.reset("hits", 7)


def test_a_diskcache_directory_is_imported_and_its_files_removed(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    _diskcache_directory(directory)
    assert any(p.suffix == ".val" for p in directory.rglob("*"))
    with ResponseCache(directory) as cache:
        small, large = cache.get("small"), cache.get("large")
        assert small is not None and small.text == "4" and small.cached
        assert large is not None and large.text == "z" * 50_000
    assert sorted(p.name for p in directory.iterdir()) == sorted([FILE_NAME, FILE_NAME + "-wal", FILE_NAME + "-shm"]) or (
        directory / "cache.db"
    ).exists() is False
    assert not any(p.suffix == ".val" or p.name.startswith("cache.db") for p in directory.rglob("*"))


def test_an_unreadable_diskcache_file_is_left_alone(tmp_path: Path) -> None:
    directory = tmp_path / "responses"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"not a database at all" * 100)
    with ResponseCache(directory) as cache:
        assert cache.get("small") is None
        cache.set("new", Completion(text="5", model_id="openai:gpt-4o"))
    assert (directory / "cache.db").read_bytes().startswith(b"not a database")
    with sqlite3.connect(directory / FILE_NAME) as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone() == (1,)


@pytest.mark.parametrize("value", ["", "{", "[]"])
def test_a_stored_value_that_is_not_an_answer_is_a_miss_and_is_dropped(tmp_path: Path, value: str) -> None:
    AnswerStore(tmp_path).put_many([("k", value)])
    with ResponseCache(tmp_path) as cache:
        assert cache.get("k") is None
    assert AnswerStore(tmp_path).get("k") is None

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.core.paths import MmoPaths
from mmo.core.types import Completion, Cost, Message, Params, Request, ToolCall, Usage
from mmo.runtime.answer_store import FILE_NAME, AnswerStore
from mmo.runtime.cache import ResponseCache, cache_key
from mmo.runtime.keys import KeyStore

OPENAI = {"kind": "openai", "base_url": "https://api.openai.com/v1"}
SECRET = "sk-live-SECRET-7f3a9c1e5b"


def _request(**params: object) -> Request:
    return Request.from_prompt("What is 2+2?", system="Be brief.", params=Params(**params))  # type: ignore[arg-type]


def _completion(**changes: object) -> Completion:
    base = Completion(
        text="4",
        model_id="openai:gpt-4o",
        usage=Usage(20, 5, 4, 0),
        finish_reason="stop",
        tool_calls=(ToolCall("call_1", "add", '{"a": 2, "b": 2}'),),
        reported_model="gpt-4o-2024-08-06",
        cost=Cost(0.0001, "genai-prices 0.2.3"),
        latency_ms=812.5,
        ttft_ms=301.25,
    )
    return replace(base, **changes)


@pytest.fixture
def cache(tmp_path: Path) -> ResponseCache:
    store = ResponseCache(tmp_path / "responses")
    yield store
    store.close()


def test_equal_requests_built_separately_have_equal_keys() -> None:
    first = cache_key(OPENAI, "gpt-4o", _request(temperature=0.2, extra={"top_k": 40, "safety": [1, 2]}))
    second = cache_key(dict(reversed(list(OPENAI.items()))), "gpt-4o", _request(extra={"safety": (1, 2), "top_k": 40}, temperature=0.2))
    assert first == second
    assert len(first) == 64 and int(first, 16) >= 0


@pytest.mark.parametrize(
    "params",
    [
        {"max_tokens": 100},
        {"temperature": 0.0},
        {"top_p": 0.9},
        {"stop": ("END",)},
        {"seed": 7},
        {"response_format": {"type": "json_object"}},
        {"reasoning_effort": "high"},
        {"logprobs": True},
        {"top_logprobs": 3},
        {"extra": {"top_k": 40}},
    ],
)
def test_every_parameter_changes_the_key(params: dict) -> None:
    assert cache_key(OPENAI, "gpt-4o", _request(**params)) != cache_key(OPENAI, "gpt-4o", _request())


def test_extra_values_and_reasoning_levels_are_told_apart() -> None:
    keys = {
        cache_key(OPENAI, "gpt-4o", _request(extra={"top_k": 40})),
        cache_key(OPENAI, "gpt-4o", _request(extra={"top_k": 41})),
        cache_key(OPENAI, "gpt-4o", _request(reasoning_effort="low")),
        cache_key(OPENAI, "gpt-4o", _request(reasoning_effort="high")),
    }
    assert len(keys) == 4


def test_messages_model_and_endpoint_change_the_key() -> None:
    base = _request()
    variants = [
        cache_key(OPENAI, "gpt-4o", base),
        cache_key(OPENAI, "gpt-4o-mini", base),
        cache_key({**OPENAI, "base_url": "http://localhost:11434/v1"}, "gpt-4o", base),
        cache_key({**OPENAI, "kind": "anthropic"}, "gpt-4o", base),
        cache_key(OPENAI, "gpt-4o", Request.from_prompt("What is 2+3?", system="Be brief.")),
        cache_key(OPENAI, "gpt-4o", Request.from_prompt("What is 2+2?")),
        cache_key(OPENAI, "gpt-4o", Request((Message("user", "Be brief."), Message("user", "What is 2+2?")))),
    ]
    assert len(set(variants)) == len(variants)


def test_timeout_metadata_and_tags_do_not_change_the_key() -> None:
    plain = cache_key(OPENAI, "gpt-4o", _request())
    assert cache_key(OPENAI, "gpt-4o", _request(timeout_s=5.0)) == plain
    tagged = Request.from_prompt("What is 2+2?", system="Be brief.", metadata={"id": "row-7"}, tags=("nightly",))
    assert cache_key(OPENAI, "gpt-4o", tagged) == plain


def test_round_trip_marks_cached_and_keeps_everything(cache: ResponseCache) -> None:
    original = _completion()
    assert cache.get("k") is None
    assert cache.set("k", original) is True
    hit = cache.get("k")
    assert hit == replace(original, cached=True)
    assert hit.latency_ms == 812.5
    assert hit.tool_calls[0].parsed_arguments() == {"a": 2, "b": 2}


def test_entries_survive_reopening(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c") as first:
        first.set("k", _completion())
    with ResponseCache(tmp_path / "c") as second:
        hit = second.get("k")
    assert hit is not None and hit.text == "4" and hit.cached


@pytest.mark.parametrize("reason", ["content_filter", "other"])
def test_refuses_filtered_or_abnormal_answers(cache: ResponseCache, reason: str) -> None:
    assert cache.set("k", _completion(finish_reason=reason)) is False
    assert cache.get("k") is None


@pytest.mark.parametrize("reason", ["stop", "length", "tool_calls"])
def test_stores_normal_answers(cache: ResponseCache, reason: str) -> None:
    assert cache.set("k", _completion(finish_reason=reason)) is True
    assert cache.get("k").finish_reason == reason


def test_trace_is_not_stored(cache: ResponseCache) -> None:
    from mmo.core.trace import Span

    span = Span("model", "fast", "fast", "ok", 0.0, 10.0, model_id="openai:gpt-4o")
    cache.set("k", _completion(trace=span))
    assert cache.get("k").trace is None


def test_stats_count_entries_hits_and_misses_and_clear_resets(cache: ResponseCache, tmp_path: Path) -> None:
    cache.set("a", _completion())
    cache.set("b", _completion(text="5"))
    cache.get("a")
    cache.get("a")
    cache.get("missing")
    stats = cache.stats()
    assert (stats.entries, stats.hits, stats.misses) == (2, 2, 1)
    assert stats.directory == tmp_path / "responses"
    assert stats.size_bytes > 0
    assert cache.clear() == 2
    after = cache.stats()
    assert (after.entries, after.hits, after.misses) == (0, 0, 0)
    assert cache.get("a") is None


def test_an_unreadable_entry_is_a_miss(cache: ResponseCache, tmp_path: Path) -> None:
    AnswerStore(tmp_path / "responses").put_many([("bad", "{not json"), ("partial", '{"text": "no model id"}')])
    assert cache.get("bad") is None
    assert cache.get("partial") is None
    assert cache.stats().entries == 0


def test_the_api_key_never_reaches_cache_keys_or_files(monkeypatch: pytest.MonkeyPatch, memory_keyring) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    KeyStore({}).set("anthropic", SECRET + "-anthropic")
    settings = BUILTIN_PROVIDERS["openai"]
    import os

    resolved = KeyStore(os.environ).resolve("openai", settings.key_env)
    assert resolved.value == SECRET
    identity = {"kind": settings.kind, "base_url": settings.base_url}
    key = cache_key(identity, "gpt-4o", _request(extra={"user": "me"}))
    directory = MmoPaths.from_env().response_cache_dir
    with ResponseCache(directory) as store:
        store.set(key, _completion())
        assert store.get(key) is not None
    with sqlite3.connect(directory / FILE_NAME) as db:  # what actually landed on disk
        stored_keys = [row[0] for row in db.execute("SELECT key FROM answers")]
    assert stored_keys and all("SECRET" not in k for k in stored_keys)
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert b"SECRET" not in path.read_bytes(), path

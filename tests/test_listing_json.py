"""Every command that lists or reports has `--json`: `keys list` (never a key) and `cache stats`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app

SECRET = "sk-test-NEVER-IN-JSON-0123456789"


def test_keys_list_json_names_where_each_key_comes_from_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    result = CliRunner().invoke(app, ["keys", "list", "--json"])
    assert result.exit_code == 0, result.stderr
    listed = {row["provider"]: row for row in json.loads(result.stdout)}
    assert listed["openai"]["env_var"] == "OPENAI_API_KEY" and listed["openai"]["source"] != "-"
    assert listed["anthropic"]["source"] == "-"
    assert SECRET not in result.stdout


def test_cache_stats_json() -> None:
    result = CliRunner().invoke(app, ["cache", "stats", "--json"])
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert set(stats) == {"directory", "entries", "size_bytes", "hits", "misses"} and stats["entries"] == 0

"""Every command that lists or reports has `--json`: `keys list` (never a key) and `cache stats`."""

from __future__ import annotations

import json
from typing import Any

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


def _batch_profile(tmp_path: Any, server: Any) -> Any:
    path = tmp_path / "p.yaml"
    path.write_text(
        f'providers:\n  p: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}\n'
        'models:\n  a: {model: "p:claude-3-5-haiku-latest-long-model-id", price: {input: 1, output: 2}}\n'
        "retry: {attempts: 1}\nstrategy: a\n"
    )
    return path


def test_the_batch_summary_keeps_its_errors_at_80_columns_and_prints_json(tmp_path: Any, loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.batch_harness import run_cli
    from tests.support.loopback import Fault

    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": n, "prompt": f"q{n}"}) + "\n" for n in range(3)))
    loopback.script("claude-3-5-haiku-latest-long-model-id", Fault.status(400, error="bad_request"))
    monkeypatch.setenv("COLUMNS", "80")
    narrow = run_cli(str(data), "-P", str(_batch_profile(tmp_path, loopback)), "--no-cache", "-c", "1")
    assert narrow.exit_code == 1
    flat = " ".join(narrow.stderr.split())
    assert "errors of p:claude-3-5-haiku-latest-long-model-id: BadRequest 1" in flat
    assert "rows ended by: BadRequest 1" in flat
    assert max(len(line) for line in narrow.stderr.splitlines()) <= 80
    (tmp_path / "in.out.jsonl").unlink()
    summary = run_cli(str(data), "-P", str(_batch_profile(tmp_path, loopback)), "--no-cache", "--json", "--run-id", "again")
    report = json.loads(summary.stdout)
    assert report["rows"]["total"] == 3 and report["exit_code"] == summary.exit_code
    assert report["models"][0]["model"] == "p:claude-3-5-haiku-latest-long-model-id"
    refused = run_cli("-", "-P", str(_batch_profile(tmp_path, loopback)), "--json", input="")
    assert refused.exit_code == 2 and "give -o FILE" in refused.stderr


def test_mmo_models_never_cuts_a_model_id_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, ["models", "--provider", "anthropic"])
    assert result.exit_code == 0, result.stderr
    assert "anthropic:claude-3-5-haiku-latest " in result.stdout and "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80

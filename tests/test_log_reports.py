"""`mmo logs stats` / `mmo spend`, `mmo logs -q`, `--since/--until` and `--format jsonl|csv`, over
a run log written by real `mmo ask` runs against the loopback server."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.app.log_stats import parse_moment
from mmo.cli.main import app
from mmo.core.errors import ConfigError
from tests.support.loopback import LoopbackServer


@pytest.fixture
def logged(tmp_path: Path, loopback: LoopbackServer) -> Path:
    """Three asks through a priced model (one fails), one through a model with no price."""
    from tests.support.loopback import Fault

    profile = tmp_path / "shop.yaml"
    profile.write_text(
        f'providers:\n  p: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none}}\n'
        "models:\n  priced: {model: 'p:priced-model', price: {input: 1000, output: 2000}}\n  free: 'p:mystery-model'\n"
        "defaults: {max_tokens: 10}\nbudget: {daily_usd: 5, allow_unknown_prices: true}\nretry: {attempts: 1}\nstrategy: priced\n"
    )
    loopback.script("priced-model", Fault.ok(), Fault.ok(), Fault.status(400, error="bad_request"))
    for prompt in ("=HYPERLINK(bad) first question", "Second question about PARIS", "third"):
        CliRunner().invoke(app, ["ask", "-P", str(profile), "--no-cache", prompt], input="")
    CliRunner().invoke(app, ["ask", "-P", str(profile), "-m", "free", "--no-cache", "fourth"], input="")
    return profile


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})


def test_stats_by_model_count_calls_errors_spend_and_unknown_prices_apart(logged: Path) -> None:
    result = cli("logs", "stats", "--by", "model", "--json")
    assert result.exit_code == 0, result.stderr
    groups = {g["group"]: g for g in json.loads(result.stdout)["groups"]}
    priced, mystery = groups["p:priced-model"], groups["p:mystery-model"]
    assert (priced["calls"], priced["errors"]) == (3, 1) and priced["spent_usd"] > 0 and priced["unknown_cost_calls"] == 0
    assert mystery["calls"] == 1 and mystery["spent_usd"] == 0 and mystery["unknown_cost_calls"] == 1
    assert priced["p50_ms"] is not None and priced["p95_ms"] >= priced["p50_ms"]


def test_stats_by_day_provider_and_profile_and_the_daily_budget(logged: Path) -> None:
    by_provider = json.loads(cli("spend", "--by", "provider", "--json").stdout)["groups"]
    assert [(g["group"], g["calls"]) for g in by_provider] == [("p", 4)]
    by_profile = json.loads(cli("logs", "stats", "--by", "profile", "--json", "-P", str(logged)).stdout)
    assert [g["group"] for g in by_profile["groups"]] == ["shop"]
    budget = by_profile["budget"]
    assert budget["daily_usd"] == 5 and 0 < budget["spent_today_usd"] < 5 and budget["left_usd"] == pytest.approx(5 - budget["spent_today_usd"])


def test_stats_on_a_terminal_fit_80_columns_with_a_bar_chart(logged: Path) -> None:
    result = cli("logs", "stats", "--by", "model", "-P", str(logged))
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "#" in result.stdout and "daily budget of shop" in result.stdout and "left" in result.stdout


def test_stats_csv_and_a_window_with_nothing_in_it(logged: Path) -> None:
    rows = list(csv.reader(io.StringIO(cli("logs", "stats", "--format", "csv").stdout)))
    assert rows[0][:3] == ["day", "calls", "errors"] and int(rows[1][1]) == 4
    assert json.loads(cli("logs", "stats", "--since", "2999-01-01", "--json").stdout)["groups"] == []


@pytest.mark.parametrize("value", ["lastweek", "7 parsecs", "2026-13-01"])
def test_a_bad_time_is_a_usage_error_saying_what_is_accepted(logged: Path, value: str) -> None:
    result = cli("logs", "stats", "--since", value)
    assert result.exit_code == 2 and "7d" in result.stderr and "yesterday" in result.stderr


def test_times_parse_as_documented() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 5, 13, 30, tzinfo=UTC)
    assert parse_moment("7d", "--since", now) == datetime(2026, 11, 28, 13, 30, tzinfo=UTC)
    assert parse_moment("yesterday", "--since", now) == datetime(2026, 12, 4, tzinfo=UTC)
    assert parse_moment("2026-12-01T08:00", "--since", now) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    with pytest.raises(ConfigError):
        parse_moment("soon", "--since", now)


def test_search_finds_prompts_and_answers_in_any_case(logged: Path) -> None:
    found = json.loads(cli("logs", "-q", "paris", "--json").stdout)
    assert [r["prompt"] for r in found] == ["Second question about PARIS"]
    assert [r["prompt"] for r in json.loads(cli("logs", "-q", "ECHO: second", "--json").stdout)] == ["Second question about PARIS"]  # by its answer
    assert json.loads(cli("logs", "-q", "100%_", "--json").stdout) == []  # wildcards are text


def test_export_jsonl_and_csv_safe_for_spreadsheets(logged: Path) -> None:
    lines = cli("logs", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == 4 and all(json.loads(line)["run_id"] for line in lines)
    rows = list(csv.DictReader(io.StringIO(cli("logs", "--format", "csv", "--since", "1d").stdout)))
    assert len(rows) == 4
    assert any(row["prompt"] == "'=HYPERLINK(bad) first question" for row in rows)


def test_logs_rows_fit_80_columns(logged: Path) -> None:
    result = cli("logs")
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "p:mystery-model" in result.stdout and "BadRequest" in result.stdout


def test_search_ignores_case_beyond_ascii(tmp_path: Path, loopback: LoopbackServer) -> None:
    from tests.support.one_model import one_model_profile

    profile = one_model_profile(tmp_path, loopback)
    CliRunner().invoke(app, ["ask", "-P", str(profile), "--no-cache", "Wo liegt die STRASSE nach Ärhus?"], input="")
    assert len(json.loads(cli("logs", "-q", "ärhus", "--json").stdout)) == 1
    assert len(json.loads(cli("logs", "-q", "straße", "--json").stdout)) == 1  # ß folds to ss

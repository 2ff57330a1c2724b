"""``mmo bench`` from the command line on the bundled replay sample: the report, JSON and CSV for
machines, a dry run that calls nothing, a stored run reported again without calls, and
``--compare`` failing (exit 1) on a significant regression so it can gate CI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app

PROFILE = """providers:
  replay:
    kind: replay
    path: "builtin:mmlu_pro_sample"
    key: none
models:
  flash: replay:{flash}
  pro: replay:gemini-1.5-pro-002
strategy: flash
"""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def bench(*args: str) -> object:
    return CliRunner().invoke(app, ["bench", *args])


def profile(tmp_path: Path, name: str, flash: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(PROFILE.format(flash=flash))
    return str(path)


def test_a_bench_prints_its_report_and_json_carries_every_target(tmp_path: Path) -> None:
    shown = bench("builtin:mmlu_pro_sample", "-P", "demo", "--models", "flash,pro", "--profiles", "cascade-agree")
    assert shown.exit_code == 0, shown.stderr
    assert "accuracy" in shown.stderr and "profile:cascade-agree" in shown.stderr and "frontier" in shown.stderr
    assert all(len(line) <= 80 for line in shown.stderr.splitlines())

    again = bench("--from", "latest", "--json")
    assert again.exit_code == 0, again.stderr
    document = json.loads(again.stdout)
    targets = {t["target"]: t for t in document["targets"]}
    assert set(targets) == {"flash", "pro", "profile:cascade-agree"}
    assert targets["pro"]["tasks"] == 300 and 0.5 < targets["pro"]["accuracy"] < 0.9

    table = bench("--from", "latest", "--csv")
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert {row["target"] for row in rows} >= {"flash", "pro", "profile:cascade-agree"}


def test_a_dry_run_shows_each_target_and_stores_nothing(tmp_path: Path) -> None:
    shown = bench("builtin:mmlu_pro_sample", "-P", "demo", "--models", "flash", "--profiles", "cascade-agree", "--dry-run")
    assert shown.exit_code == 0, shown.stderr
    assert "flash" in shown.stderr and "profile:cascade-agree" in shown.stderr and "worst" in shown.stderr and "bench estimate" in shown.stderr
    assert not (tmp_path / "home" / "data" / "bench").exists()


def test_compare_exits_1_on_a_significant_regression_and_0_without_one(tmp_path: Path) -> None:
    good = profile(tmp_path, "good", "gemini-1.5-flash-002")
    worse = profile(tmp_path, "worse", "Mistral-7B-Instruct-v0.2")
    first = bench("builtin:mmlu_pro_sample", "-P", good, "--models", "flash", "-o", "golden")
    assert first.exit_code == 0, first.stderr

    same = bench("builtin:mmlu_pro_sample", "-P", good, "--models", "flash", "--compare", "golden")
    assert same.exit_code == 0, same.stderr

    regressed = bench("builtin:mmlu_pro_sample", "-P", worse, "--models", "flash", "--compare", "golden", "--report", "r.html")
    assert regressed.exit_code == 1, regressed.stderr
    assert "regress" in regressed.stderr.lower() and (tmp_path / "r.html").is_file()


def test_usage_errors_name_the_fix(tmp_path: Path) -> None:
    assert bench().exit_code == 2
    mixed = bench("builtin:mmlu_pro_sample", "--from", "latest")
    assert mixed.exit_code == 2
    missing = bench("nowhere.jsonl", "-P", "demo", "--models", "flash")
    assert missing.exit_code == 2 and "nowhere.jsonl" in missing.stderr


def test_compare_latest_means_the_run_before_this_one(tmp_path: Path) -> None:
    good = profile(tmp_path, "good", "gemini-1.5-flash-002")
    worse = profile(tmp_path, "worse", "Mistral-7B-Instruct-v0.2")
    assert bench("builtin:mmlu_pro_sample", "-P", good, "--models", "flash").exit_code == 0
    regressed = bench("builtin:mmlu_pro_sample", "-P", worse, "--models", "flash", "--compare", "latest", "--json")
    assert regressed.exit_code == 1, regressed.stderr
    change = json.loads(regressed.stdout)["comparison"]
    assert change["regressed"] is True or any(t.get("regressed") for t in change["targets"])

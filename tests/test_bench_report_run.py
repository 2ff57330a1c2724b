"""The report reads what a real bench run stores: ``run_bench`` on the bundled replay sample, then
the stored run loaded, summarised, shown at 80 columns, written as HTML, and compared with
itself (nothing flips, the lockfiles agree)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from mmo.app.bench.bench import run_bench
from mmo.app.bench.compare import compare
from mmo.app.bench.html_report import write_html
from mmo.app.bench.report import summarize
from mmo.app.bench.stored import load_run
from mmo.cli.bench_render import render_comparison, render_summary
from mmo.cli.terminal import SafeConsole
from tests.test_bench_run import env_in, request, write_tasks


def test_a_stored_bench_run_makes_a_report(tmp_path: Path) -> None:
    rows = write_tasks(tmp_path / "tasks.jsonl", 40)
    outcome = asyncio.run(run_bench(request(tmp_path / "tasks.jsonl"), env_in(tmp_path)))
    run = load_run(outcome.bench.root)
    assert len(run.results) == 3 * 40 and len(run.tasks) == 40 and run.lock is not None

    summary = summarize(run.results, run.tasks, title=outcome.bench.root.name)
    assert [t.target for t in summary.targets] == ["flash", "pro", "profile:cascade-agree"]
    assert all(t.tasks == 40 and t.cost_usd is not None and t.cost_usd > 0 for t in summary.targets)
    assert {c.category for c in summary.categories} == {row["category"] for row in rows}
    assert summary.frontier  # some target is on it

    console = SafeConsole(width=80, file=io.StringIO(), force_terminal=False, color_system=None)
    render_summary(console, summary)
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in shown.splitlines()) <= 80 and "profile:cascade-agree" in shown

    report = write_html(tmp_path / "bench.html", summary)
    assert report.read_text(encoding="utf-8").count('<circle class="point"') >= 3

    again = compare(run, load_run(outcome.bench.results_path))
    assert not again.regressed and again.lock_changes == () and again.lock_notes == ()
    assert all(not change.right_to_wrong and not change.wrong_to_right for change in again.targets)
    render_comparison(console, again)
    assert "the lockfiles agree" in console.file.getvalue()  # type: ignore[attr-defined]

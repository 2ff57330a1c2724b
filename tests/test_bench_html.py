"""``--report FILE.html``: one self-contained file (nothing fetched, only its own script allowed),
every user-provided string escaped, written whole or not at all, devices and FIFOs written in
place, bad paths refused with the fix. The browser test (``test_bench_html_browser``) opens it."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import threading
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mmo.app.bench.compare import compare
from mmo.app.bench.html_report import html_document, write_html
from mmo.app.bench.report import BenchSummary, summarize
from mmo.app.bench.results import TaskResult
from mmo.app.bench.stored import StoredRun
from mmo.app.bench.tasks import Task
from mmo.core.errors import ConfigError
from tests.bench_report_data import HOSTILE, LOCK_AFTER, LOCK_BEFORE, TASKS, results

HOSTILE_CATEGORY = "</title><script>alert(2)</script>"
HOSTILE_TASK = '"><img src=x onerror=alert(3)>'
HOSTILE_LOCK = "<svg onload=alert(4)>"

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "label", "select", "option", "div", "svg",
    "line", "text", "polyline", "g", "circle", "table", "thead", "tbody", "tr", "th", "td", "span", "ul", "li", "details",
    "summary", "code", "script",
}  # fmt: skip


def hostile_run() -> tuple[BenchSummary, object]:
    """The hand-built run with a target, a category, a task id, a lockfile value and a title an
    attacker chose."""
    rows = [replace(r, target=HOSTILE) if r.target == "replay:c" else r for r in results()]
    rows = [replace(r, task_id=HOSTILE_TASK) if r.task_id == "t1" else r for r in rows]
    tasks = [replace(t, id=HOSTILE_TASK) if t.id == "t1" else replace(t, category=HOSTILE_CATEGORY) if t.category == "law" else t for t in TASKS]
    summary = summarize(rows, tasks, title="<b>run</b>")
    flipped = [replace(r, correct=not r.correct) if r.target == HOSTILE else r for r in rows]
    lock_after = {**LOCK_AFTER, "profiles": {HOSTILE: HOSTILE_LOCK}}
    comparison = compare(StoredRun("old<i>", tuple(rows), lock=LOCK_BEFORE), StoredRun("new", tuple(flipped), lock=lock_after))
    return summary, comparison


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(document: str) -> Tags:
    parser = Tags()
    parser.feed(document)
    parser.close()
    return parser


def test_hostile_names_are_escaped_everywhere() -> None:
    summary, comparison = hostile_run()
    document = html_document(summary, comparison)  # type: ignore[arg-type]
    page = parsed(document)
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert [tag for tag, _ in page.tags].count("script") == 1  # the report's own, nothing injected
    assert not [name for _, attrs in page.tags for name, _ in attrs if name.startswith("on")]
    text = "".join(page.text)
    for hostile in (HOSTILE, HOSTILE_CATEGORY, HOSTILE_TASK, HOSTILE_LOCK, "<b>run</b>", "old<i>"):
        assert hostile in text  # shown as the text it is
    targets = [value for _, attrs in page.tags for name, value in attrs if name == "data-target"]
    assert HOSTILE in targets  # and in attributes, as the value it is


def test_the_page_fetches_nothing_and_allows_only_its_own_script() -> None:
    summary, _ = hostile_run()
    document = html_document(summary)
    page = parsed(document)
    policy = next(dict(attrs)["content"] for tag, attrs in page.tags if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy")
    assert policy is not None and "default-src 'none'" in policy
    script = re.search(r"<script>(.*?)</script>", document, re.S)
    style = re.search(r"<style>(.*?)</style>", document, re.S)
    assert script is not None and style is not None
    for kind, body in (("script-src", script.group(1)), ("style-src", style.group(1))):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{kind} 'sha256-{digest}'" in policy
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", document)


def test_one_chart_per_scope_with_a_point_per_target_with_a_known_cost() -> None:
    summary, _ = hostile_run()
    document = html_document(summary)
    page = parsed(document)
    charts = [dict(attrs)["data-scope"] for tag, attrs in page.tags if tag == "div" and dict(attrs).get("class") == "chart"]
    assert charts == ["all", "category-0", "category-1", "category-2"]
    overall = parsed(document.split('<div class="chart" ')[1])  # the first chart, all tasks
    points = [dict(attrs)["data-target"] for tag, attrs in overall.tags if tag == "g"]
    assert points == ["replay:a", "replay:b", HOSTILE]  # profile:p's cost is unknown
    assert [tag for tag, _ in overall.tags].count("circle") == 3 and [tag for tag, _ in overall.tags].count("polyline") == 1


def test_written_whole_and_replacing_the_old_file(tmp_path: Path) -> None:
    summary, comparison = hostile_run()
    target = tmp_path / "report.html"
    target.write_text("the old report", encoding="utf-8")
    written = write_html(target, summary, comparison)  # type: ignore[arg-type]
    assert written == target.resolve()
    assert target.read_text(encoding="utf-8") == html_document(summary, comparison)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary file left
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_keeps_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary, _ = hostile_run()
    target = tmp_path / "report.html"
    target.write_text("the old report", encoding="utf-8")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(ConfigError, match="cannot write the report .*No space left on device"):
        write_html(target, summary)
    assert target.read_text(encoding="utf-8") == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_symbolic_link_is_followed_not_replaced(tmp_path: Path) -> None:
    summary, _ = hostile_run()
    real = tmp_path / "real.html"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    write_html(link, summary)
    assert link.is_symlink() and real.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_character_device_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    device = tmp_path / "report-device"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the null device's numbers, in tmp_path
    except PermissionError:
        pytest.skip("making a device node needs root")
    summary, _ = hostile_run()
    write_html(device, summary)
    assert stat.S_ISCHR(device.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report-device"]


def test_a_fifo_is_written_in_place_for_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    summary, _ = hostile_run()
    try:
        write_html(fifo, summary)
        reader.join(10)
    finally:
        if reader.is_alive():  # never opened for writing: let the reader see an end
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(10)
    assert received[0].decode("utf-8") == html_document(summary)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_directory_or_a_missing_directory_is_refused_with_the_fix(tmp_path: Path) -> None:
    summary, _ = hostile_run()
    with pytest.raises(ConfigError, match=r"is a directory: name a file in it \(for example --report .*bench\.html\)"):
        write_html(tmp_path, summary)
    with pytest.raises(ConfigError, match=r"does not exist \(create it first: mkdir -p"):
        write_html(tmp_path / "missing" / "report.html", summary)
    assert list(tmp_path.iterdir()) == []


def test_a_lone_surrogate_from_a_results_file_does_not_stop_the_report(tmp_path: Path) -> None:
    rows = [TaskResult("q1", "model-\udcff", "A", True, cost_usd=0.1)]
    write_html(tmp_path / "report.html", summarize(rows, [Task(id="q1", messages=())]))
    assert "model-?" in (tmp_path / "report.html").read_text(encoding="utf-8")

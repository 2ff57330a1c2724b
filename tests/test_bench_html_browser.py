"""The HTML report opened in a real headless Chromium (the distribution's, driven by Playwright;
no browser is ever downloaded): the chart renders with one point per target with a known cost,
nothing is fetched, no console error (a Content-Security-Policy violation is one), no injected
script runs, and the tooltip, the category menu and the sortable table work.

Without Chromium or Playwright the test skips saying how to install them; under CI (the ``CI``
variable set, as ``.ci/run`` runs) it fails instead, so a missing install step cannot pass
unnoticed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from mmo.app.bench.html_chart import chart_points
from mmo.app.bench.html_report import write_html
from tests.bench_report_data import HOSTILE
from tests.test_bench_html import HOSTILE_CATEGORY, hostile_run

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
INSTALL = "install it with `apt-get install -y chromium` and `pip install -e '.[test]'` (Playwright drives the installed Chromium)"


def unavailable(reason: str) -> NoReturn:
    """Skip, or under CI fail: CI must run this test."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser test ({INSTALL}; .ci/run does)")
    pytest.skip(f"{reason}: {INSTALL}")


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if found is None:
        unavailable("Chromium is not installed")
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(str(profile), executable_path=executable, headless=True, args=FLAGS)
        try:
            yield context
        finally:
            context.close()


@dataclass
class Watched:
    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_report(browser: Any, path: Path) -> Watched:
    page = browser.new_page()
    watched = Watched(page)
    page.on("console", lambda message: watched.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("dialog", lambda dialog: (watched.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    return watched


@pytest.fixture(scope="module")
def report(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    summary, comparison = hostile_run()
    path = write_html(tmp_path_factory.mktemp("report") / "bench.html", summary, comparison)  # type: ignore[arg-type]
    watched = open_report(browser, path)
    yield watched
    watched.page.close()


def test_the_chart_renders_one_point_per_target_with_no_console_error_and_nothing_fetched(report: Watched) -> None:
    summary, _ = hostile_run()
    page = report.page
    chart = page.locator("div.chart:not([hidden]) svg")
    assert chart.count() == 1
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 150
    circles = chart.locator("circle.point")
    assert circles.count() == len(chart_points(summary.targets)) == 3
    for index in range(circles.count()):
        point = circles.nth(index).bounding_box()
        assert point is not None and point["width"] > 0
        assert box["x"] <= point["x"] <= box["x"] + box["width"] and box["y"] <= point["y"] <= box["y"] + box["height"]
    assert chart.locator("polyline.frontier-line").count() == 1
    assert report.errors == []
    assert report.requests == [page.url]  # the file itself, nothing else
    assert report.dialogs == []  # no injected script ran


def test_hostile_names_show_as_text(report: Watched) -> None:
    page = report.page
    assert HOSTILE in page.locator("#targets td.name").all_inner_texts()
    assert any(option.startswith(HOSTILE_CATEGORY) for option in page.locator("#scope option").all_inner_texts())
    assert page.locator("script").count() == 1


def test_hovering_a_point_shows_its_target_accuracy_interval_and_cost(report: Watched) -> None:
    page = report.page
    tip = page.locator("#tip")
    assert tip.is_hidden()
    page.locator(f'div.chart:not([hidden]) g.point[data-target="{HOSTILE}"] circle').hover()
    assert tip.is_visible()
    lines = tip.inner_text().splitlines()
    assert lines[0] == f"D: {HOSTILE}"  # its letter is its place among the targets (a, p, b, then it)
    assert lines[1].startswith("accuracy 50.0% (3/6), 95% interval 18.8-81.2%")
    assert lines[2] == "cost per task $0.002000, total $0.0120"
    page.mouse.move(0, 0)
    assert tip.is_hidden()
    assert report.errors == []


def test_the_category_menu_switches_the_chart(report: Watched) -> None:
    summary, _ = hostile_run()
    page = report.page
    for number, category in enumerate(summary.categories):
        page.select_option("#scope", f"category-{number}")
        visible = page.locator("div.chart:not([hidden])")
        assert visible.count() == 1 and visible.get_attribute("data-scope") == f"category-{number}"
        assert visible.locator("circle.point").count() == len(chart_points(category.targets))
    page.select_option("#scope", "all")
    assert page.locator("div.chart:not([hidden])").get_attribute("data-scope") == "all"
    assert report.errors == []


def test_a_column_header_sorts_the_table(report: Watched) -> None:
    page = report.page
    names = page.locator("#targets tbody td.name:nth-child(2)")
    page.locator("#targets th", has_text="accuracy").click()
    descending = names.all_inner_texts()
    page.locator("#targets th", has_text="accuracy").click()
    ascending = names.all_inner_texts()
    # a and p are right on 4 of 6, the hostile target 3 of 6 (b has 5 results: 2 of 5).
    assert set(descending[:2]) == {"replay:a", "profile:p"} and descending[2:] == [HOSTILE, "replay:b"]
    assert ascending[:2] == ["replay:b", HOSTILE] and set(ascending[2:]) == {"replay:a", "profile:p"}
    assert report.errors == []


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_browser_skips_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="install it with `apt-get install -y chromium`"):
        unavailable("Chromium is not installed")

"""``--report FILE.html``: a bench report as one self-contained HTML file, to share.

Everything is inside the file: the CSS, a small script and the charts (inline SVG, drawn in
Python by ``html_chart``), so it opens anywhere with nothing fetched; a Content-Security-Policy
in the page forbids any request and lets only its own script run (by hash), so even a name
that slipped past escaping could not run code. Every string from the user's files (target and
model names, task ids, categories, lockfile values) is escaped.

The page holds the chart of accuracy against cost per task (a menu switches to one category's
chart; hovering or focusing a point shows its target, accuracy, interval and cost), the table
per target (sortable by any column), the accuracy per category, the notes, and, with a
comparison, its table, the flipped tasks and the lockfile changes.

``write_html`` writes it whole to a temporary file beside the target and renames it over the
target, so a good report is never replaced by half of one. A target that exists as something
else than a regular file (a character device, a FIFO) is written in place, as ``mmo batch -o``
does, since renaming would put a file where the device node was; a directory, or a directory
that does not exist, is a ``ConfigError`` naming the path and the fix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from mmo.app.bench.axes import marker
from mmo.app.bench.html_chart import chart_svg, dollars
from mmo.app.bench.report import BenchSummary, TargetSummary
from mmo.core.errors import ConfigError

if TYPE_CHECKING:
    from mmo.app.bench.compare import Comparison, LockChange

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1280px; padding: 0 1em; color: #1d2330; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 2em; }
.meta, .empty, .note { color: #5a6272; font-size: .93em; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: .3em .6em; border-bottom: 1px solid #e3e6ec; text-align: right; vertical-align: top; }
td { white-space: nowrap; } td.name { white-space: normal; }
th { background: #f4f6f9; position: sticky; top: 0; }
table.sortable th { cursor: pointer; } table.sortable th:hover { background: #e8ecf2; }
td.name, th.name { text-align: left; overflow-wrap: break-word; min-width: 8em; max-width: 24em; }
.best { font-weight: 700; } .regressed { color: #b3261e; font-weight: 700; } .improved { color: #1e7b34; }
.scroll { overflow-x: auto; }
svg.chart { width: 100%; max-width: 760px; height: auto; }
svg .frame { stroke: #1d2330; } svg .grid { stroke: #e3e6ec; }
svg .tick, svg .axis-title, svg .letter { font: 12px system-ui, sans-serif; fill: #1d2330; }
svg .letter { font-weight: 700; }
svg polyline.frontier-line { fill: none; stroke: #2b6cb0; stroke-width: 2; stroke-dasharray: 5 4; }
svg .interval { stroke: #9aa3b2; stroke-width: 2; }
svg circle.point { fill: #fff; stroke: #2b6cb0; stroke-width: 2.5; }
svg g.frontier circle.point { fill: #2b6cb0; }
svg g.point:hover circle.point, svg g.point:focus circle.point { stroke: #d97706; stroke-width: 4; outline: none; }
#tip { position: absolute; background: #1d2330; color: #fff; padding: .45em .7em; border-radius: 4px; font-size: 13px; pointer-events: none; max-width: 28em; overflow-wrap: anywhere; }
details { margin: .4em 0; } code { font-size: .95em; }
"""

SCRIPT = """
"use strict";
(() => {
  const scope = document.getElementById("scope");
  const charts = Array.from(document.querySelectorAll("div.chart"));
  if (scope) {
    scope.addEventListener("change", () => {
      for (const chart of charts) chart.hidden = chart.dataset.scope !== scope.value;
    });
  }
  const tip = document.getElementById("tip");
  const show = (event) => {
    const point = event.currentTarget;
    const lines = Object.keys(point.dataset).filter((key) => key.startsWith("line")).sort().map((key) => point.dataset[key]);
    tip.replaceChildren(...lines.map((line) => {
      const row = document.createElement("div");
      row.textContent = line;
      return row;
    }));
    const box = point.getBoundingClientRect();
    tip.style.left = `${window.scrollX + box.right + 10}px`;
    tip.style.top = `${window.scrollY + box.top - 10}px`;
    tip.hidden = false;
  };
  const hide = () => { tip.hidden = true; };
  for (const point of document.querySelectorAll("g.point")) {
    point.addEventListener("mouseenter", show);
    point.addEventListener("focus", show);
    point.addEventListener("mouseleave", hide);
    point.addEventListener("blur", hide);
  }
  const value = (row, column) => {
    const cell = row.cells[column];
    if (cell.dataset.sort === undefined) return cell.textContent.trim().toLowerCase();
    return cell.dataset.sort === "" ? null : Number(cell.dataset.sort);
  };
  for (const table of document.querySelectorAll("table.sortable")) {
    table.tHead.addEventListener("click", (event) => {
      const header = event.target.closest("th");
      if (!header) return;
      const column = header.cellIndex;
      const descending = header.dataset.order !== "descending";
      for (const other of table.tHead.rows[0].cells) delete other.dataset.order;
      header.dataset.order = descending ? "descending" : "ascending";
      const rows = Array.from(table.tBodies[0].rows);
      rows.sort((a, b) => {
        const x = value(a, column), y = value(b, column);
        if (x === null || y === null) return (x === null) - (y === null);
        return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
      });
      table.tBodies[0].append(...rows);
    });
  }
})();
"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


CONTENT_SECURITY_POLICY = f"default-src 'none'; script-src 'sha256-{_sha256(SCRIPT)}'; style-src 'sha256-{_sha256(STYLE)}'; img-src data:"


def html_document(summary: BenchSummary, comparison: Comparison | None = None) -> str:
    """The whole report page (see the module's text)."""
    from mmo._version import __version__

    title = f"mmo bench {summary.title}".strip()
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{summary.task_count} tasks · {len(summary.targets)} targets · written by mmo {escape(__version__)}</p>',
        *_chart_section(summary),
        *_targets_section(summary),
        *_categories_section(summary),
        *_notes_section(summary),
        *(_comparison_section(comparison) if comparison is not None else []),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            '<div id="tip" role="tooltip" hidden></div>',
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _chart_section(summary: BenchSummary) -> list[str]:
    parts = ["<h2>Accuracy against cost per task</h2>"]
    if len(summary.categories) > 1:
        options = ['<option value="all">all tasks</option>'] + [
            f'<option value="category-{number}">{escape(c.category)} ({c.tasks} tasks)</option>' for number, c in enumerate(summary.categories)
        ]
        parts.append(f'<p><label>Tasks: <select id="scope">{"".join(options)}</select></label></p>')
    parts.append(f'<div class="chart" data-scope="all">{chart_svg(summary.targets, label="all tasks")}</div>')
    if len(summary.categories) > 1:
        for number, category in enumerate(summary.categories):
            svg = chart_svg(category.targets, label=f"category {category.category}")
            parts.append(f'<div class="chart" data-scope="category-{number}" hidden>{svg}</div>')
    parts.append(
        '<p class="note">Each point is a target (its letter as in the tables), with its 95% interval as a bar; filled points '
        "and the dashed line are the cost/accuracy frontier: no other target is both cheaper per task and more accurate. "
        "Hover over or focus a point for its figures.</p>"
    )
    return parts


def _targets_section(summary: BenchSummary) -> list[str]:
    columns = _target_columns(summary)
    head = "".join(f'<th{" class=name" if header in ("target", "errors") else ""} scope="col">{escape(header)}</th>' for header, _ in columns)
    rows = "".join(f"<tr>{''.join(cell(index, t) for _, cell in columns)}</tr>" for index, t in enumerate(summary.targets))
    return [
        "<h2>Targets</h2>",
        '<div class="scroll"><table class="sortable" id="targets">',
        f"<thead><tr>{head}</tr></thead>",
        f"<tbody>{rows}</tbody>",
        "</table></div>",
        '<p class="note">Click a column to sort. Accuracy counts an error or an unjudged answer as not correct (95% interval: Wilson\'s); '
        "an unknown cost is never counted as $0; the judge's cost is not in the target's; latency covers every result that "
        "recorded one, failures included.</p>",
    ]


Column = tuple[str, Callable[[int, TargetSummary], str]]


def _target_columns(summary: BenchSummary) -> list[Column]:
    """The targets table's columns; the judge's cost and the time to first token only where the run has them."""
    columns: list[Column] = [
        ("", lambda i, t: _cell(marker(i))),
        ("target", lambda i, t: _cell(t.target, css="name")),
        ("correct", lambda i, t: _num(f"{t.correct}/{t.tasks}", t.correct)),
        ("accuracy", lambda i, t: _num(_percent(t.accuracy), t.accuracy)),
        ("95% interval", lambda i, t: _num(f"{100 * t.interval[0]:.1f}-{100 * t.interval[1]:.1f}%", t.interval[0]) if t.tasks else _num("-", None)),
        ("cost", lambda i, t: _num(_cost(t.known_cost_usd, t.unknown_cost), t.cost_usd)),
        ("per task", lambda i, t: _num(dollars(t.cost_per_task), t.cost_per_task)),
        ("per correct", lambda i, t: _num(dollars(t.cost_per_correct), t.cost_per_correct)),
    ]
    if summary.has_judge:
        columns.append(("judge cost", lambda i, t: _num(_cost(t.known_judge_cost_usd, t.unknown_judge_cost), t.judge_cost_usd)))
    columns += [
        ("p50", lambda i, t: _num(_millis(t.p50_latency_ms), t.p50_latency_ms)),
        ("p95", lambda i, t: _num(_millis(t.p95_latency_ms), t.p95_latency_ms)),
    ]
    if summary.has_ttft:
        columns.append(("TTFT p50", lambda i, t: _num(_millis(t.p50_ttft_ms), t.p50_ttft_ms)))
    columns += [
        ("tokens in/out", lambda i, t: _num(f"{t.input_tokens:,} / {t.output_tokens:,}" + (" + unknown" if t.unknown_tokens else ""), t.input_tokens + t.output_tokens)),
        ("errors", lambda i, t: _num(", ".join(f"{name} {count}" for name, count in t.errors) or "-", sum(count for _, count in t.errors), css="name")),
        ("frontier", lambda i, t: _num("yes" if t.on_frontier else "", int(t.on_frontier))),
    ]
    return columns


def _cell(text: str, *, css: str = "") -> str:
    """A table cell, escaped, sorted by its text."""
    return f'<td class="{css}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"


def _num(text: str, value: float | None, *, css: str = "") -> str:
    """A table cell, escaped, sorted by ``value`` (None: unknown, sorted last)."""
    classes = f' class="{css}"' if css else ""
    return f'<td{classes} data-sort="{"" if value is None else repr(float(value))}">{escape(text)}</td>'


def _categories_section(summary: BenchSummary) -> list[str]:
    if len(summary.categories) < 2:
        return []
    head = '<th class="name" scope="col">category</th><th scope="col">tasks</th>' + "".join(
        f'<th scope="col" title="{escape(t.target)}">{escape(marker(i))} <span class="name">{escape(t.target)}</span></th>' for i, t in enumerate(summary.targets)
    )
    rows = []
    for category in summary.categories:
        best = max((t.accuracy for t in category.targets if t.accuracy is not None), default=None)
        cells = [_cell(category.category, css="name"), _num(str(category.tasks), category.tasks)]
        for t in category.targets:
            css = "best" if t.accuracy is not None and t.accuracy == best else ""
            cells.append(_num(f"{_percent(t.accuracy)} ({t.correct}/{t.tasks})" if t.tasks else "-", t.accuracy, css=css))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return [
        "<h2>Accuracy per category</h2>",
        '<div class="scroll"><table class="sortable" id="categories">',
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>",
        "</table></div>",
        '<p class="note">The best accuracy of each category in bold; click a column to sort.</p>',
    ]


def _notes_section(summary: BenchSummary) -> list[str]:
    notes = []
    for t in summary.targets:
        if t.missing:
            notes.append(f"{t.target}: {t.missing} task(s) with no result (a run stopped early?); the figures cover {t.tasks} results.")
        if t.unknown_cost:
            notes.append(f"{t.target}: the cost of {t.unknown_cost} result(s) is unknown: no total, no cost per task, not on the frontier.")
        if t.unjudged:
            notes.append(f"{t.target}: {t.unjudged} answer(s) could not be judged by the check: counted as not correct.")
    if summary.stray_results:
        notes.append(f"{summary.stray_results} result(s) for tasks not in the task set were left out.")
    return ["<h2>Notes</h2>", "<ul>", *(f"<li>{escape(note)}</li>" for note in notes), "</ul>"] if notes else []


def _comparison_section(comparison: Comparison) -> list[str]:
    level = f"{100 * comparison.level:g}%"
    head = "".join(f"<th{' class=name' if h == 'target' else ''}>{h}</th>" for h in ("target", "tasks", "before", "after", "right → wrong", "wrong → right", "p", "change"))
    rows = []
    for change in comparison.targets:
        word, css = ("regression", "regressed") if change.regressed else ("improvement", "improved") if change.improved else ("not significant", "")
        cells = [
            _cell(change.target, css="name"), _num(str(change.paired), change.paired), _num(_percent(change.accuracy_before), change.accuracy_before),
            _num(_percent(change.accuracy_after), change.accuracy_after), _num(str(len(change.right_to_wrong)), len(change.right_to_wrong)),
            _num(str(len(change.wrong_to_right)), len(change.wrong_to_right)), _num(f"{change.test.p_value:.4g}", change.test.p_value), _cell(word, css=css),
        ]  # fmt: skip
        rows.append(f"<tr>{''.join(cells)}</tr>")
    verdict = f"Significant regression at the {level} level: {', '.join(comparison.regressions)}." if comparison.regressed else f"No significant regression at the {level} level."
    return [
        "<h2>Compared with an earlier run</h2>",
        f'<p class="meta">Previous: {escape(comparison.previous)}{_created(comparison.previous_created)} · current: {escape(comparison.current)}{_created(comparison.current_created)}</p>',
        f'<p class="{"regressed" if comparison.regressed else ""}">{escape(verdict)}</p>',
        '<div class="scroll"><table class="sortable" id="comparison">',
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>",
        f'<p class="note">The tasks both runs have, per target; an error counts as wrong; McNemar\'s test at the {level} level.</p>',
        *_flips(comparison),
        *_lock_section(comparison),
    ]


def _created(created: str | None) -> str:
    return f" (created {escape(created)})" if created else ""


def _flips(comparison: Comparison) -> list[str]:
    parts = []
    for change in comparison.targets:
        worse = [f.task_id + (f" ({f.error_class})" if f.error_class else "") for f in change.right_to_wrong]
        for label, ids in (("right → wrong", worse), ("wrong → right", [f.task_id for f in change.wrong_to_right])):
            if ids:
                items = ", ".join(f"<code>{escape(task)}</code>" for task in ids)
                parts.append(f"<details><summary>{escape(change.target)}: {label} ({len(ids)})</summary><p>{items}</p></details>")
    return parts


def _lock_section(comparison: Comparison) -> list[str]:
    parts = [f'<p class="note">{escape(note)}</p>' for note in comparison.lock_notes]
    if not comparison.lock_changes:
        return parts if comparison.lock_notes else ['<p class="note">The lockfiles agree: same resolved models, prices, profiles and task set.</p>']
    rows = "".join(_lock_row(change) for change in comparison.lock_changes)
    return [*parts, "<h3>What changed in the lockfile</h3>", f'<table id="lock"><thead><tr><th class="name">what</th><th class="name">before</th><th class="name">now</th></tr></thead><tbody>{rows}</tbody></table>']


def _lock_row(change: LockChange) -> str:
    def shown(value: object) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    before = "(absent)" if change.kind == "added" else shown(change.before)
    after = "(absent)" if change.kind == "removed" else shown(change.after)
    return f"<tr>{_cell(' / '.join(change.path), css='name')}{_cell(before, css='name')}{_cell(after, css='name')}</tr>"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _cost(known: float, unknown: int) -> str:
    if not unknown:
        return dollars(known)
    return f"unknown ({unknown})" if known == 0 else f"{dollars(known)} + unknown ({unknown})"


def _millis(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def check_report_path(path: Path) -> None:
    """Refuse, before anything is spent, a report path that cannot be written: a directory, or a
    file in a directory that does not exist."""
    _report_kind(path)


def _report_kind(path: Path) -> str:
    """"file" (a regular file or a new one) or "stream" (a device or FIFO: written in place)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise ConfigError(f"cannot write the report {str(path)!r}: {error.strerror or error}; choose another --report") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise ConfigError(f"--report {str(path)!r} is a directory: name a file in it (for example --report {os.path.join(str(path), 'bench.html')})")
    if mode is not None and not stat.S_ISREG(mode):
        return "stream"
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write the report {str(path)!r}: the directory {str(path.parent)!r} does not exist (create it first: mkdir -p {str(path.parent)!r})")
    return "file"


def write_html(path: Path, summary: BenchSummary, comparison: Comparison | None = None) -> Path:
    """The report written to ``path`` whole (see the module's text); returns the path written."""
    document = html_document(summary, comparison).encode("utf-8", "replace")  # a lone surrogate from a JSON file becomes "?"
    try:
        if _report_kind(path) == "stream":
            with path.open("wb") as stream:
                stream.write(document)
            return path
        return _replace_atomically(path.resolve(), document)
    except OSError as error:
        raise ConfigError(f"cannot write the report {str(path)!r}: {error.strerror or error}; choose another --report") from None


def _replace_atomically(target: Path, content: bytes) -> Path:
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    # Created as any new file is (0666 less the umask), so the report reads as one written in place.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target

"""Rich renderables for results and traces: output as data, rendered late by the caller.

Text from a server, a profile or the run log is shown with its control characters escaped
(``mmo.core.shown``): strings through ``mmo.cli.terminal.SafeConsole``, ``Text`` pieces built
here explicitly. An answer written to a terminal is escaped too (``answer_text``); written to a
file or a pipe it is left as it came."""

from __future__ import annotations

from typing import IO, Any

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mmo.app.outcome import RunOutcome, answering_attempt
from mmo.app.tools import tool_answer
from mmo.core.codec import completion_to_dict
from mmo.core.shown import shown, shown_line
from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Delta, StreamRestart


def money(cost: Cost | None) -> str:
    if cost is None:
        return "-"
    if cost.usd is None:
        return "unknown"
    if cost.usd == 0:
        return "$0"
    return f"${cost.usd:.6f}" if cost.usd < 0.01 else f"${cost.usd:.4f}"


def millis(value: float | None, *, simulated: bool = False) -> str:
    if value is None:
        return "-"
    text = f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"
    return f"{text}*" if simulated else text


def route(trace: Span, completion: Completion | None = None) -> str:
    """Every attempt in order with its outcome: ``flash ✗ RateLimited → pro ✓``. ``✓`` marks
    the answer returned; ``·`` an answer that was used on the way (a tier a gate rejected, a
    vote, a judge, an earlier pipeline step); ``⊘`` a call cancelled in flight."""
    winner = answering_attempt(trace, completion)
    steps = []
    for attempt in trace.attempts():
        if attempt.status == "ok":
            mark = "✓" if attempt is winner or completion is None else "·"
        else:
            mark = "⊘" if attempt.status == "cancelled" else "✗"
        suffix = f" {attempt.error}" if attempt.error and attempt.status != "cancelled" else ""
        cache = " (cache)" if attempt.cached else ""
        steps.append(f"{attempt.label} {mark}{suffix}{cache}")
    return " → ".join(steps) or "-"


def result_table(result: RunOutcome) -> Table:
    """One row per model attempt (why each failed, what each cost), a total row, and a title
    naming the model that answered and the route that led to it."""
    completion = result.completion
    answered = completion.model_id if completion else "no model answered"
    if completion and completion.reported_model and completion.reported_model not in answered:
        answered += f" (server: {completion.reported_model})"
    taken = route(result.trace, completion)
    if completion and taken == f"{result.strategy} ✓":  # one model: name it once (its alias beside it)
        title = f"{answered} ✓" if result.strategy == completion.model_id else f"{answered} ({result.strategy}) ✓"
    else:
        title = f"{answered}  ·  {result.strategy}: {taken}"
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=None,
        header_style="bold",
        pad_edge=False,
    )
    # On a narrow terminal the model id gives way (with an ellipsis) before the numbers do.
    table.add_column("model", no_wrap=True, overflow="ellipsis")
    answering = answering_attempt(result.trace, completion) if is_truncated(completion) else None
    rows = [_attempt_cells(attempt, completion, truncated=attempt is answering) for attempt in result.trace.attempts()]
    for index, column in enumerate(("result", "latency", "TTFT", "tokens", "cost"), start=1):
        widest = max([len(column), *(len(row[index]) for row in rows)])
        justify: JustifyMethod = "right" if column in {"latency", "TTFT", "cost"} else "left"
        table.add_column(column, no_wrap=True, min_width=widest, justify=justify)
    for row in rows:
        table.add_row(*row)
    usage, cost = result.total_usage, result.total_cost
    # A replay that did not wait reports a simulated latency longer than the run really took:
    # show that one (marked), counted from the run's start. Otherwise the run's own time is right.
    total_latency, simulated = result.waited_ms()
    notes = [f"prices: {sources}"] if (sources := _price_sources(result.trace)) else []
    if is_truncated(completion):
        notes.append("truncated: the answer was cut at max_tokens (raise it with -p max_tokens=N)")
    if completion is not None and completion.latency_simulated:
        notes.append("* latency simulated by the replay provider")
    table.add_row(
        "total",
        ("truncated" if is_truncated(completion) else "ok") if completion else "failed",
        millis(total_latency, simulated=simulated),
        "",
        f"{usage.input_tokens}/{usage.output_tokens}",
        money(cost),
        style="bold",
    )
    if notes:
        table.caption = "  ·  ".join(notes)
        table.caption_justify = "left"
    return table


def _attempt_cells(attempt: Span, completion: Completion | None, *, truncated: bool) -> tuple[str, ...]:
    simulated = bool(completion and completion.latency_simulated and attempt.status == "ok" and attempt.model_id == completion.model_id)
    latency = completion.latency_ms if simulated and completion else attempt.duration_ms
    usage = attempt.usage
    outcome = "truncated" if truncated else "ok" if attempt.status == "ok" else (attempt.error or attempt.status)
    return (
        attempt.model_id or attempt.label,
        f"{outcome} (cache)" if attempt.cached else outcome,
        millis(latency, simulated=simulated),
        millis(attempt.ttft_ms),
        f"{usage.input_tokens}/{usage.output_tokens}" if usage else "-",
        money(attempt.cost),
    )


def is_truncated(completion: Completion | None) -> bool:
    """The answer was cut at its output limit (``max_tokens``): shown, but flagged."""
    return completion is not None and completion.truncated


def _price_sources(trace: Span) -> str:
    sources = sorted({a.cost.source for a in trace.attempts() if a.cost is not None and a.cost.source})
    return ", ".join(sources)


def trace_tree(trace: Span) -> Tree:
    """The decision trace as a tree: each node, its events, and each attempt's numbers."""
    tree = Tree(Text("run", style="bold"))
    _add_in_order(tree, trace)
    return tree


def _add_in_order(node: Tree, span: Span) -> None:
    """A span's events and child spans in the order they happened: a gate's verdict after the
    call it judged, "moving on" after the attempt that failed."""
    happened: list[tuple[float, int, Any]] = [(event.at_ms, 0, event) for event in span.events]
    happened += [(child.start_ms, 1, child) for child in span.children]
    for _, _, item in sorted(happened, key=lambda entry: (entry[0], entry[1])):
        if isinstance(item, Span):
            _add_span(node, item)
        else:
            node.add(Text(shown(item.message), style="dim"))


def _add_span(parent: Tree, span: Span) -> None:
    style = {"ok": "green", "error": "red", "cancelled": "yellow"}[span.status]
    label = Text()
    label.append(f"{span.kind} ", style="bold")
    label.append(shown_line(span.label))
    label.append(f"  {span.status}", style=style)
    label.append(f"  {millis(span.duration_ms)}", style="dim")
    if span.is_attempt:
        usage = span.usage
        if usage is not None:
            label.append(f"  tokens {usage.input_tokens}/{usage.output_tokens}", style="dim")
        if span.cost is not None:
            label.append(f"  {money(span.cost)}", style="dim")
        if span.cached:
            label.append("  cache hit", style="cyan")
    node = parent.add(label)
    if span.error_message:
        node.add(Text(shown(span.error_message), style="red"))
    _add_in_order(node, span)


def result_json(result: RunOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": result.run_id,
        "conversation_id": result.conversation_id,
        "profile": result.profile,
        "strategy": result.strategy,
        "ok": result.completion is not None,
        "cost_usd": result.total_cost.usd,
        "usage": result.total_usage.to_dict(),
        "latency_ms": round(result.trace.duration_ms, 3),
        "warnings": list(result.warnings),
        "trace": result.trace.to_dict(),
    }
    if result.completion is not None:
        out["answer"] = result.completion.text
        out["truncated"] = is_truncated(result.completion)
        out["completion"] = completion_to_dict(result.completion, with_trace=False)
        if result.completion.tool_calls:
            out["tool_calls"] = tool_answer(result.completion)["tool_calls"]
    if result.error is not None:
        to_dict = getattr(result.error, "to_dict", None)
        out["error"] = to_dict() if callable(to_dict) else {"error": type(result.error).__name__, "message": str(result.error)}
    return out


def is_terminal(out: IO[str]) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(callable(isatty) and isatty())


def answer_text(text: str, out: IO[str]) -> str:
    """An answer as it is written to ``out``: as it came when ``out`` is a file or a pipe (it is
    the user's data), with control characters shown as escapes on a terminal (an answer must not
    be able to clear the screen, move the cursor or set the clipboard; line breaks and tabs stay)."""
    return shown(text) if is_terminal(out) else text


class StreamPrinter:
    """The stream sink for a terminal: text as it arrives; when a stream that already showed
    text is abandoned, a visible marker naming the failed model and, once known, the model that
    took over, followed by that model's whole answer. A reader closing the output (``| head``)
    sets ``closed``: the rest is not shown, and the run (paid for) goes on to be logged."""

    def __init__(self, out: IO[str], marker_out: IO[str]) -> None:
        self.out, self.marker_out = out, marker_out
        self.shown_any = False
        self.closed = False
        self.pending_restart: StreamRestart | None = None
        self.escaped = is_terminal(out)  # see ``answer_text``

    def __call__(self, event: Delta | StreamRestart) -> None:
        if isinstance(event, StreamRestart):
            self.pending_restart = event
            return
        if self.closed or not event.text:  # nothing to show (a cached tool call): no blank answer line
            return
        try:
            self._show(event)
        except BrokenPipeError:
            self.closed = True

    def _show(self, event: Delta) -> None:
        if self.pending_restart is not None:
            failed = self.pending_restart
            self.pending_restart = None
            marker = f"the stream from {failed.failed_model} was cut ({failed.error}); the answer from {event.model_id or 'the next model'} follows:"
            self.marker_out.write(f"\n\n[mmo] {shown_line(marker)}\n\n")
            self.marker_out.flush()
        self.out.write(shown(event.text) if self.escaped else event.text)
        self.out.flush()
        self.shown_any = True

    def finish(self) -> None:
        if self.shown_any:
            self.out.write("\n")
            self.out.flush()

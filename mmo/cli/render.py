"""Rich renderables for results and traces: output as data, rendered late by the caller."""

from __future__ import annotations

from typing import IO, Any

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mmo.app.outcome import RunOutcome
from mmo.core.codec import completion_to_dict
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


def answering_attempt(trace: Span, completion: Completion | None) -> Span | None:
    """The attempt whose answer was returned: the last successful one by the answering model
    (earlier successes were rejected by a gate, out-voted, or fed a later step)."""
    if completion is None:
        return None
    winner = None
    for attempt in trace.attempts():
        if attempt.status == "ok" and attempt.model_id == completion.model_id:
            winner = attempt
    return winner


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
    table = Table(
        title=f"{answered}  ·  {result.strategy}: {route(result.trace, completion)}",
        title_justify="left",
        title_style="bold",
        box=None,
        header_style="bold",
        pad_edge=False,
    )
    # On a narrow terminal the model id gives way (with an ellipsis) before the numbers do.
    table.add_column("model", no_wrap=True, overflow="ellipsis")
    rows = [_attempt_cells(attempt, completion) for attempt in result.trace.attempts()]
    for index, column in enumerate(("result", "latency", "TTFT", "tokens", "cost"), start=1):
        widest = max([len(column), *(len(row[index]) for row in rows)])
        justify: JustifyMethod = "right" if column in {"latency", "TTFT", "cost"} else "left"
        table.add_column(column, no_wrap=True, min_width=widest, justify=justify)
    for row in rows:
        table.add_row(*row)
    usage, cost = result.total_usage, result.total_cost
    # A replay that did not wait reports a simulated latency longer than the run really took:
    # show that one (marked). When it did wait (or for real calls), the run's own time is right.
    simulated = bool(completion and completion.latency_simulated and completion.latency_ms > result.trace.duration_ms)
    total_latency = completion.latency_ms if simulated and completion else result.trace.duration_ms
    notes = [f"prices: {sources}"] if (sources := _price_sources(result.trace)) else []
    if completion is not None and completion.latency_simulated:
        notes.append("* latency simulated by the replay provider")
    table.add_row(
        "total",
        "ok" if completion else "failed",
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


def _attempt_cells(attempt: Span, completion: Completion | None) -> tuple[str, ...]:
    simulated = bool(completion and completion.latency_simulated and attempt.status == "ok" and attempt.model_id == completion.model_id)
    latency = completion.latency_ms if simulated and completion else attempt.duration_ms
    usage = attempt.usage
    outcome = "ok" if attempt.status == "ok" else (attempt.error or attempt.status)
    return (
        attempt.model_id or attempt.label,
        f"{outcome} (cache)" if attempt.cached else outcome,
        millis(latency, simulated=simulated),
        millis(attempt.ttft_ms),
        f"{usage.input_tokens}/{usage.output_tokens}" if usage else "-",
        money(attempt.cost),
    )


def _price_sources(trace: Span) -> str:
    sources = sorted({a.cost.source for a in trace.attempts() if a.cost is not None and a.cost.source})
    return ", ".join(sources)


def trace_tree(trace: Span) -> Tree:
    """The decision trace as a tree: each node, its events, and each attempt's numbers."""
    tree = Tree(Text("run", style="bold"))
    for child in trace.children:
        _add_span(tree, child)
    for event in trace.events:
        tree.add(Text(event.message, style="dim"))
    return tree


def _add_span(parent: Tree, span: Span) -> None:
    style = {"ok": "green", "error": "red", "cancelled": "yellow"}[span.status]
    label = Text()
    label.append(f"{span.kind} ", style="bold")
    label.append(span.label)
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
        node.add(Text(span.error_message, style="red"))
    for event in span.events:
        node.add(Text(f"{event.message}", style="dim"))
    for child in span.children:
        _add_span(node, child)


def result_json(result: RunOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": result.run_id,
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
        out["completion"] = completion_to_dict(result.completion, with_trace=False)
    if result.error is not None:
        to_dict = getattr(result.error, "to_dict", None)
        out["error"] = to_dict() if callable(to_dict) else {"error": type(result.error).__name__, "message": str(result.error)}
    return out


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

    def __call__(self, event: Delta | StreamRestart) -> None:
        if isinstance(event, StreamRestart):
            self.pending_restart = event
            return
        if self.closed:
            return
        try:
            self._show(event)
        except BrokenPipeError:
            self.closed = True

    def _show(self, event: Delta) -> None:
        if self.pending_restart is not None:
            failed = self.pending_restart
            self.pending_restart = None
            self.marker_out.write(
                f"\n\n[mmo] the stream from {failed.failed_model} was cut ({failed.error}); "
                f"the answer from {event.model_id or 'the next model'} follows:\n\n"
            )
            self.marker_out.flush()
        self.out.write(event.text)
        self.out.flush()
        self.shown_any = True

    def finish(self) -> None:
        if self.shown_any:
            self.out.write("\n")
            self.out.flush()

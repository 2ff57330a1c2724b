"""The ``mmo batch --dry-run`` estimate as a table: per model, tokens and cost under the best,
expected and worst case, and what the caps cover."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmo.cli.formats import dollars, plural

if TYPE_CHECKING:
    from rich.table import Table

    from mmo.app.batch.estimate import BatchEstimate, Spread


def estimate_table(estimate: BatchEstimate) -> Table:
    from rich.table import Table

    table = Table(title=f"dry run: {plural(estimate.rows, 'row')}, nothing called", title_justify="left", title_style="bold",
                  box=None, header_style="bold", pad_edge=False)
    table.add_column("model", overflow="fold")  # a model id wraps rather than being cut
    for column in ("rows", "tokens in", "tokens out", "best", "expected", "worst"):
        table.add_column(column, justify="right", no_wrap=True)
    for model in estimate.models:
        cost = model.cost_usd
        table.add_row(
            model.model_id,
            str(model.rows),
            token_span(model.input_tokens),
            token_span(model.output_tokens),
            *(dollars(getattr(cost, scenario)) if cost is not None else "unknown" for scenario in ("best", "expected", "worst")),
        )
    total = estimate.cost_usd
    cells = [known_part(usd, unknown) for usd, unknown in zip((total.best, total.expected, total.worst), estimate.unknown_rows_by_scenario, strict=True)]
    table.add_row("total", str(estimate.rows), "", "", *cells, style="bold")
    table.caption = "\n".join(caption_lines(estimate))
    table.caption_justify = "left"
    return table


def known_part(usd: float, unknown_rows: int) -> str:
    """A total some of whose rows reach a model with no price: ``unknown`` when nothing in it is
    priced, else ``≥$X`` (the priced part: the caption counts the rest). Never a bare ``$0``."""
    if not unknown_rows:
        return dollars(usd)
    return "unknown" if usd == 0 else f"≥{dollars(usd)}"


def caption_lines(estimate: BatchEstimate) -> list[str]:
    lines = [
        "best, expected, worst: the cost of the cheapest, the likely and the dearest path through the strategy",
        f"prices: {_sources(estimate)}" + (f" (+ {plural(estimate.unknown_price_rows, 'row')} at unknown prices, not counted)" if estimate.unknown_price_rows else ""),
        f"input tokens: {estimate.method}",
        f"output tokens: {estimate.output_method}",
        *estimate.notes,
    ]
    cap = estimate.max_cost
    if cap is not None:
        if cap.rows_at_worst >= estimate.rows:
            lines.append(f"--max-cost {dollars(cap.cap_usd)}: covers every row, even at worst")
        else:
            expected = "every row" if cap.rows_expected >= estimate.rows else f"about {cap.rows_expected} rows"
            lines.append(
                f"--max-cost {dollars(cap.cap_usd)}: at worst it stops the run after {cap.rows_at_worst} of {estimate.rows} rows "
                f"(as expected: {expected}); a stopped run resumes where it stopped"
            )
    if estimate.request_budget_usd is not None and estimate.rows_over_request_budget:
        lines.append(
            f"budget.per_request_usd {dollars(estimate.request_budget_usd)}: the worst case of {plural(estimate.rows_over_request_budget, 'row')} "
            "passes it (their dearest calls would be refused, or fail over to a cheaper model)"
        )
    return lines


def _sources(estimate: BatchEstimate) -> str:
    sources = dict.fromkeys(model.price_source for model in estimate.models)
    if len(sources) == 1:
        return next(iter(sources))
    return "; ".join(f"{model.model_id}: {model.price_source}" for model in estimate.models)


def token_span(spread: Spread) -> str:
    low, high = round(spread.best), round(spread.worst)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"

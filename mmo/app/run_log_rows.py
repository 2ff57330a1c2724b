"""The run log's rows for one request's run (an ``ask``, a batch row): the run, then one row per
model attempt, failed and cancelled ones included. The one mapper from an outcome to the log (a
batch invocation's summary record is in ``mmo.app.batch.run_record``); timestamps in the log's
one format (``utc_iso``). A run cancelled in flight (``Interrupted``) is logged with status
``interrupted`` and what its attempts spent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from mmo.app.outcome import Interrupted, RunOutcome
from mmo.app.tools import shown_answer
from mmo.core.errors import one_line
from mmo.core.trace import Span
from mmo.core.types import Completion, Request
from mmo.runtime.runlog import AttemptRecord, RunRecord, utc_iso

_TRACE_JSON = json.JSONEncoder(separators=(",", ":")).encode  # compact: a batch logs one per row


def outcome_records(
    outcome: RunOutcome,
    request: Request,
    *,
    command: str,
    log_text: bool,
    batch_run_id: str | None = None,
    batch_line: int | None = None,
    conversation_id: str | None = None,
) -> tuple[RunRecord, list[AttemptRecord]]:
    prompt_text = request.prompt_text()
    prompt_chars = len(prompt_text)
    attempts = [_attempt(outcome.run_id, seq, span, prompt_chars) for seq, span in enumerate(outcome.trace.attempts())]
    completion, error = outcome.completion, outcome.error
    cost, usage = outcome.total_cost, outcome.total_usage
    run = RunRecord(
        run_id=outcome.run_id,
        started_at=utc_iso(datetime.now(UTC) - timedelta(milliseconds=outcome.trace.duration_ms)),
        command=command,
        profile=outcome.profile,
        strategy=outcome.strategy,
        prompt=prompt_text if log_text else None,
        answer=(shown_answer(completion) if completion else None) if log_text else None,  # a tool call as its JSON
        model_id=completion.model_id if completion else None,
        status="ok" if completion else "interrupted" if isinstance(error, Interrupted) else "error",
        error_class=type(error).__name__ if error else None,
        error_message=one_line(error) if error else None,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=cost.usd,
        cost_source=cost.source,
        latency_ms=outcome.waited_ms()[0],
        ttft_ms=completion.ttft_ms if completion else None,
        cached=bool(completion and completion.cached),
        trace_json=_TRACE_JSON(outcome.trace.to_dict()),  # decisions and numbers only: no prompt text
        batch_run_id=batch_run_id,
        batch_line=batch_line,
        conversation_id=conversation_id,
        turn_json=_turn_json(request, completion) if conversation_id is not None and log_text else None,
    )
    return run, attempts


def _turn_json(request: Request, completion: Completion | None) -> str:
    """This turn's own messages: the system prompt, the last user message, the answer (``None``
    when it failed); what a later ``--continue`` replays."""
    import json

    answer = completion.text if completion is not None and not completion.tool_calls else None
    return json.dumps({"system": request.system, "user": request.last_user_text(), "answer": answer}, ensure_ascii=False)


def _attempt(run_id: str, seq: int, span: Span, prompt_chars: int) -> AttemptRecord:
    usage, cost = span.usage, span.cost
    return AttemptRecord(
        run_id=run_id,
        seq=seq,
        node_path=span.path,
        model_id=span.model_id or "",
        status=span.status,
        error_class=span.error,
        error_message=span.error_message,
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cached_tokens=usage.cached_tokens if usage else 0,
        reasoning_tokens=usage.reasoning_tokens if usage else 0,
        cost_usd=cost.usd if cost else None,
        cost_source=cost.source if cost else None,
        latency_ms=span.duration_ms,
        ttft_ms=span.ttft_ms,
        cache_hit=span.cached,
        prompt_chars=prompt_chars,
    )

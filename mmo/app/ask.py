"""The ``ask`` use case: one prompt through a profile, logged, with its trace. No typer, no rich."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

from mmo.app.params import params_from_mapping
from mmo.app.session import AppEnv, ProfileChoice, Session, open_session, resolve_profile
from mmo.core.errors import AllAttemptsFailed, MmoError, one_line
from mmo.core.protocols import Provider, StreamSink
from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Request, Usage, frozen_mapping
from mmo.runtime.context import RunOptions, execute
from mmo.strategies.build import describe

if TYPE_CHECKING:
    from mmo.runtime.runlog import AttemptRecord, RunRecord


@dataclass(frozen=True, slots=True)
class AskInput:
    prompt: str
    choice: ProfileChoice = field(default_factory=ProfileChoice)
    system: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    read_cache: bool = True
    write_cache: bool = True
    log_text: bool = True
    fail_fast: bool = False
    simulate_outage: tuple[str, ...] = ()  # PROVIDER, PROVIDER:MODEL or alias: calls to it fail (a drill)


@dataclass(frozen=True, slots=True)
class AskResult:
    """What happened. Exactly one of ``completion`` and ``error`` is set; ``trace`` is always
    there, so a failed run can be explained too."""

    run_id: str
    profile: str
    strategy: str
    trace: Span
    completion: Completion | None
    error: BaseException | None
    warnings: tuple[str, ...]

    @property
    def total_cost(self) -> Cost:
        return self.trace.total_cost()

    @property
    def total_usage(self) -> Usage:
        return self.trace.total_usage()


async def ask(
    item: AskInput,
    env: AppEnv,
    *,
    sink: StreamSink | None = None,
    extra_providers: Mapping[str, Provider] | None = None,
) -> AskResult:
    """Run one prompt. Configuration errors raise before anything is spent; provider errors are
    returned in the result (with the trace) after the run is logged."""
    resolved = resolve_profile(item.choice, env)
    request = Request.from_prompt(
        item.prompt,
        system=item.system,
        params=params_from_mapping(item.params),
        metadata=frozen_mapping(item.metadata),
        tags=item.tags,
    )
    from mmo.runtime.runlog import RunLog

    # One connection serves the token estimator's history and, at the end, this run's record.
    with RunLog(env.paths.runlog_path) as runlog:
        session = open_session(
            resolved,
            env,
            use_cache=item.read_cache or item.write_cache,
            extra_providers=extra_providers,
            simulate_outage=item.simulate_outage,
            runlog=runlog,
        )
        try:
            result = await _run(session, request, item, sink)
        finally:
            await session.aclose()
        runlog.record(*run_records(result, request, command="ask", log_text=item.log_text))
    return result


async def _run(session: Session, request: Request, item: AskInput, sink: StreamSink | None) -> AskResult:
    options = RunOptions(read_cache=item.read_cache, write_cache=item.write_cache, fail_fast=item.fail_fast)
    spans: list[Span] = []
    completion: Completion | None = None
    error: BaseException | None = None
    try:
        completion = await execute(session.root, request, session.services, options, sink, on_span=spans.append)
    except (MmoError, AllAttemptsFailed) as failure:
        error = failure
    result = AskResult(
        run_id=_new_run_id(),
        profile=session.resolved.name,
        strategy=describe(session.root),
        trace=spans[-1],
        completion=completion,
        error=error,
        warnings=tuple(session.services.warnings.items),
    )
    return result


def _new_run_id() -> str:
    from mmo.runtime.runlog import new_run_id

    return new_run_id()


def run_records(result: AskResult, request: Request, *, command: str, log_text: bool) -> tuple[RunRecord, list[AttemptRecord]]:
    """The run log's rows for one run: the run, then one row per model attempt."""
    import json

    from mmo.runtime.runlog import AttemptRecord, RunRecord

    completion, trace = result.completion, result.trace
    cost, usage = result.total_cost, result.total_usage
    prompt_chars = len(request.prompt_text())
    attempts = [
        AttemptRecord(
            run_id=result.run_id,
            seq=seq,
            node_path=span.path,
            model_id=span.model_id or "",
            status=span.status,
            error_class=span.error,
            error_message=span.error_message,
            input_tokens=span.usage.input_tokens if span.usage else 0,
            output_tokens=span.usage.output_tokens if span.usage else 0,
            cached_tokens=span.usage.cached_tokens if span.usage else 0,
            reasoning_tokens=span.usage.reasoning_tokens if span.usage else 0,
            cost_usd=span.cost.usd if span.cost else None,
            cost_source=span.cost.source if span.cost else None,
            latency_ms=span.duration_ms,
            ttft_ms=span.ttft_ms,
            cache_hit=span.cached,
            prompt_chars=prompt_chars,
        )
        for seq, span in enumerate(trace.attempts())
    ]
    error = result.error
    run = RunRecord(
        run_id=result.run_id,
        started_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        command=command,
        profile=result.profile,
        strategy=result.strategy,
        prompt=request.prompt_text() if log_text else None,
        answer=(completion.text if completion else None) if log_text else None,
        model_id=completion.model_id if completion else None,
        status="ok" if completion else "error",
        error_class=type(error).__name__ if error else None,
        error_message=one_line(error) if error else None,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=cost.usd,
        cost_source=cost.source,
        latency_ms=trace.duration_ms,
        ttft_ms=completion.ttft_ms if completion else None,
        cached=bool(completion and completion.cached),
        trace_json=json.dumps(trace.to_dict()),  # decisions and numbers only: no prompt text
    )
    return run, attempts

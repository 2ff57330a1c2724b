"""``Engine``: the one run API. Every command opens one (``open_engine``) and runs requests
through it (``Engine.run``), getting one ``RunOutcome`` each.

An engine is a profile made ready to run: its strategy tree, and the services behind it that it
owns and cleans up, whatever happens: the provider pool (and its one HTTP client), the response
cache, the run log (one connection for the whole command: the token estimator's history, the
daily budget's spend, and the command's records), the model catalogue and the guards. Use it as
an async context manager.

``Engine.run`` runs the profile's tree, or ``root`` when given: a batch row that names its own
model runs ``engine.model_node(name)``, the node ``-m`` would run, with the same services (so
it is priced, capped and logged as that model, and estimated from its own history). A run cancelled in flight (Ctrl-C) hands its
interrupted outcome, with what it spent so far, to ``on_interrupt`` before the cancellation goes
on, so it can be logged.

Local files never cost the user an answer already paid for:

* a run log that cannot be opened (damaged, read-only, locked) stops a command that must record
  its spend before anything is called, naming the file and the fix; with ``log_optional``
  (``ask --no-log``) the run goes on unrecorded, with a warning; a daily budget, which needs
  today's spend from the log, always stops there;
* failing to record a run that did run (disk full, the log locked by another process) is a
  warning: the answer is still delivered;
* the response cache is optional: damaged, it is set aside and rebuilt; unusable, it is off, each
  time with a warning.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from mmo.app.guards import run_guards
from mmo.app.model_nodes import SingleModels
from mmo.app.outcome import Interrupted, RunOutcome
from mmo.app.portfolio import catalog_for, check_providers, provider_settings, warn_unknown_models
from mmo.app.profile_choice import ResolvedProfile, resolve_profile
from mmo.app.settings import AppEnv, RunSettings
from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import AllAttemptsFailed, ConfigError, MmoError
from mmo.core.protocols import Node, Provider, StreamSink, leaf_targets
from mmo.core.trace import Span
from mmo.core.types import Completion, Request
from mmo.runtime.context import execute
from mmo.runtime.guard import Guard
from mmo.runtime.runlog import new_run_id
from mmo.runtime.services import Services, Warnings
from mmo.runtime.spend import SpendGuard
from mmo.runtime.tokens import TokenEstimator
from mmo.strategies.build import build_tree, describe

if TYPE_CHECKING:
    import httpx

    from mmo.runtime.cache import ResponseCache
    from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord
    from mmo.runtime.spend import RunCap

Capture = tuple[type[BaseException], ...]
RUN_ERRORS: Capture = (MmoError, AllAttemptsFailed)


class Engine:
    """A profile opened for running: ``root`` (the tree), ``services``, and the run log."""

    def __init__(
        self, resolved: ResolvedProfile, root: Node, services: Services, settings: RunSettings, runlog: RunLog | None, models: SingleModels
    ) -> None:
        self.resolved, self.root, self.services, self.settings = resolved, root, services, settings
        self.runlog = runlog
        self.models = models
        self.strategy = describe(root)
        self._closed = False

    @property
    def profile_name(self) -> str:
        return self.resolved.name

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self.services.warnings.items)

    def add_guard(self, guard: Guard) -> None:
        """A guard for the rest of the run, after the profile's (so it runs after any that waits)."""
        self.services.guards = (*self.services.guards, guard)

    async def run(
        self,
        request: Request,
        *,
        sink: StreamSink | None = None,
        capture: Capture = RUN_ERRORS,
        model: str | None = None,
        on_interrupt: Callable[[RunOutcome], None] | None = None,
    ) -> RunOutcome:
        """Run one request through the profile's tree, or through the one model ``model`` names
        (as ``-m`` would). Errors of the kinds in ``capture`` are returned in the outcome, with the
        trace; anything else propagates. When the run is cancelled, ``on_interrupt`` gets its
        outcome (error ``Interrupted``; the attempts in flight carry their cancel-cost estimate)
        and the cancellation propagates."""
        root, strategy = (self.root, self.strategy) if model is None else (self.model_node(model), self.models.strategy(model))
        spans: list[Span] = []
        completion: Completion | None = None
        error: BaseException | None = None
        try:
            completion = await execute(root, request, self.services, self.settings.options, sink, on_span=spans.append)
        except capture as failure:
            error = failure
        except asyncio.CancelledError:
            if on_interrupt is not None and spans:
                stopped = Interrupted(f"cancelled after {spans[-1].duration_ms:.0f} ms (Ctrl-C)")
                try:
                    on_interrupt(RunOutcome(new_run_id(), self.profile_name, strategy, spans[-1], None, stopped, self.warnings))
                except Exception as failure:  # failing to record it must not turn Ctrl-C into another error
                    self.services.warn(f"the interrupted run could not be recorded: {type(failure).__name__}: {failure}")
            raise
        trace = completion.trace if completion is not None and completion.trace is not None else spans[-1]
        return RunOutcome(new_run_id(), self.profile_name, strategy, trace, completion, error, self.warnings)

    def log(self, outcome: RunOutcome, request: Request, *, command: str, log_text: bool = True, conversation_id: str | None = None) -> None:
        """Record one request's run in the run log (a turn of ``conversation_id`` when given)."""
        from mmo.app.run_log_rows import outcome_records

        self.record(*outcome_records(outcome, request, command=command, log_text=log_text, conversation_id=conversation_id))

    def record(self, run: RunRecord, attempts: list[AttemptRecord]) -> None:
        """Record a run that ran; failing to (disk full, the log locked by another process past
        its busy timeout) is a warning, never the loss of the run's answer. Without a run log
        (``--no-log`` past a broken one, a dry run) there is nothing to do."""
        if self.runlog is None:
            return
        try:
            self.runlog.record(run, attempts)
        except (sqlite3.Error, OSError) as error:
            from mmo.runtime.sqlite_files import file_problem

            cost = "unknown" if run.cost_usd is None else f"${run.cost_usd:.6f}"
            self.services.warn(
                f"this run was not recorded in the run log {file_problem(self.runlog.path, error)}. "
                f"Its spend ({cost}) is missing from `mmo logs` and the daily budget"
            )

    def model_node(self, name: str) -> Node:
        """The node of one model, as ``-m`` resolves ``name``; the first time, the token
        estimator learns what the run log knows of it (prompt ratio, typical answer length)."""
        node = self.models.node(name)
        if self.runlog is not None:
            new = [t.id for t in leaf_targets(node) if not self.services.tokens.knows(t.id)]
            if new:
                self.services.tokens = self.services.tokens.with_history(self.runlog, new)
        return node

    def spend_guard(self) -> SpendGuard | None:
        """The session's spend-cap guard (budgets, ``--max-cost``), when one is active."""
        return next((guard for guard in self.services.guards if isinstance(guard, SpendGuard)), None)

    def unpriced_models(self) -> list[str]:
        """Models the tree can call whose worst case cannot be priced, in tree order."""
        missing: list[str] = []
        for target in leaf_targets(self.root):
            price = self.services.catalog.price(target.ref)
            if (price is None or not price.complete) and target.id not in missing:
                missing.append(target.id)
        return missing

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.services.providers.aclose()
            for guard in self.services.guards:
                await guard.aclose()
        finally:
            if self.services.cache is not None:
                self.services.cache.close()
            if self.runlog is not None:
                self.runlog.close()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def open_engine(
    settings: RunSettings,
    env: AppEnv,
    *,
    resolved: ResolvedProfile | None = None,
    providers: Mapping[str, Provider] | None = None,
    client_factory: Callable[[], httpx.AsyncClient] | None = None,
    run_cap: RunCap | None = None,
    log_runs: bool = True,
    log_optional: bool = False,
    open_runlog: Callable[[Path], RunLog] | None = None,
    wrap_providers: Callable[[Provider, Services], Provider] | None = None,
) -> Engine:
    """Everything one profile needs to run requests. ``providers`` adds ready-made providers (a
    scripted fake, an in-process one) by name; ``client_factory`` builds the one shared HTTP client
    on first use (batch passes one sized for its concurrency); ``log_runs=False`` (a dry run) reads
    the run log only when it exists and never writes it; ``log_optional`` runs on without a run log
    that cannot be used (``--no-log``); ``open_runlog`` opens it (default ``RunLog``). ``resolved``
    is the profile when the caller has already resolved it from ``settings.choice``;
    ``wrap_providers`` is laid over each provider as it is first used (a provider batch job's
    answers, ``mmo.app.provider_batch.answers``)."""
    resolved = resolved or resolve_profile(settings.choice, env)
    root = build_tree(resolved.profile)
    endpoints = provider_settings(resolved.profile)
    extra = dict(providers or {})
    check_providers(root, endpoints, extra)
    warnings = Warnings()
    history = _open_runlog(env, resolved, root, create=log_runs, optional=log_optional or not log_runs, opener=open_runlog, warn=warnings.add)
    runlog = history.runlog
    try:
        services = _services(resolved, root, settings, env, endpoints, extra, client_factory, history, run_cap, warnings, wrap_providers)
    except BaseException:
        if runlog is not None:
            runlog.close()
        raise
    return Engine(resolved, root, services, settings, runlog, SingleModels(resolved.profile, [*endpoints, *extra]))


def _services(
    resolved: ResolvedProfile,
    root: Node,
    settings: RunSettings,
    env: AppEnv,
    endpoints: Mapping[str, ProviderSettings],
    extra: Mapping[str, Provider],
    client_factory: Callable[[], httpx.AsyncClient] | None,
    history: _History,
    run_cap: RunCap | None,
    warnings: Warnings,
    wrap_providers: Callable[[Provider, Services], Provider] | None = None,
) -> Services:
    from mmo.runtime.keys import KeyStore
    from mmo.runtime.pool import ProviderPool

    profile = resolved.profile
    catalog = catalog_for(profile, endpoints, env.paths.cache_dir / "prices")
    services: Services
    wrap = None if wrap_providers is None else (lambda provider: wrap_providers(provider, services))
    pool = ProviderPool(endpoints, KeyStore(env.environ), env.environ, extra=extra, on_warning=warnings.add, client_factory=client_factory, wrap=wrap)
    services = Services(providers=pool, catalog=catalog, tokens=history.tokens, warnings=warnings)
    state_url = shared_state_url(env)
    services.guards = run_guards(profile, providers=[*endpoints, *extra], runlog=history.runlog, simulate_outage=settings.simulate_outage, run_cap=run_cap,
                                 state_url=state_url, warn=warnings.add)
    warn_unknown_models(root, catalog, warnings.add)
    if settings.uses_cache:
        services.cache = _response_cache(env.paths.response_cache_dir, warnings.add)
        if services.cache is not None and state_url is not None:
            from mmo.runtime.shared_cache import SharedAnswers

            services.cache.shared = SharedAnswers(state_url, warnings.add)
    return services


def shared_state_url(env: AppEnv) -> str | None:
    """The Redis server the user configured for shared state (``MMO_STATE_URL``), or none."""
    from mmo.app.user_config import state_url

    url = state_url(env)
    if url is None:
        return None
    try:
        import redis  # noqa: F401  (the mmo[redis] extra)
    except ImportError:
        raise ConfigError("shared state (MMO_STATE_URL or `mmo config set state`) needs the Redis client: pip install 'mmo[redis]'") from None
    return url


@dataclass(frozen=True, slots=True)
class _History:
    """The run log (None: not opened) and the token estimator learnt from it."""

    runlog: RunLog | None
    tokens: TokenEstimator


def _open_runlog(
    env: AppEnv,
    resolved: ResolvedProfile,
    root: Node,
    *,
    create: bool,
    optional: bool,
    opener: Callable[[Path], RunLog] | None,
    warn: Callable[[str], None],
) -> _History:
    """The run log, and each model's tokens-per-character ratio and typical answer length learnt
    from it when it holds enough calls of that model. A log that cannot be opened or read is
    refused (a command that must record, or a daily budget), else skipped with a warning."""
    path = env.paths.runlog_path
    if not create and not path.exists():
        return _History(None, TokenEstimator())
    from mmo.runtime.runlog import RunLog
    from mmo.runtime.sqlite_files import file_problem

    try:
        runlog = (opener or RunLog)(path)
        try:
            return _History(runlog, TokenEstimator.from_runlog(runlog, [t.id for t in leaf_targets(root)]))
        except BaseException:
            runlog.close()
            raise
    except (sqlite3.Error, OSError) as error:
        problem = file_problem(path, error)
    daily = resolved.profile.budget.daily_usd
    if daily is not None and create:
        raise ConfigError(
            f"profile {resolved.name!r} has a daily budget (${daily:g}), and today's spend so far cannot be read from the run log "
            f"{problem}; or remove budget.daily_usd from the profile"
        )
    if not optional:
        raise ConfigError(f"cannot record this run in the run log {problem}; or pass --no-log (mmo ask) to run without recording it")
    warn(f"the run log cannot be used: {problem}; " + ("this run is not recorded" if create else "estimates ignore its history"))
    return _History(None, TokenEstimator())


def _response_cache(directory: Path, warn: Callable[[str], None]) -> ResponseCache | None:
    """The response cache, or None (with a warning) where it cannot be opened: it only saves."""
    from mmo.runtime.cache import ResponseCache

    try:
        return ResponseCache(directory, on_warning=warn)
    except (sqlite3.Error, OSError) as error:
        from mmo.runtime.answer_store import FILE_NAME
        from mmo.runtime.sqlite_files import file_problem

        warn(f"the response cache cannot be used: {file_problem(directory / FILE_NAME, error)}; answers are not cached this run")
        return None

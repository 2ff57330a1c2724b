"""A strategy run for real, through the one run API (``open_engine``, ``Engine.run``), on the bench's
recorded answers: every figure ``mmo tune`` reports for its choice comes from the same strategy,
gate, vote, router and pricing code a live run uses.

``BenchReplay`` is a provider that answers from a view's recordings, in memory, at once: a request
finds its task by ``metadata.id`` and the model by name, and gets the recorded text, tokens and
cost (``Cost(recorded)``). One instance stands in for each provider the benchmarked models name
(``replay``, ``openai``...), so the profile ``mmo tune`` writes runs here unchanged. A model or a
task it has no recording for is ``ModelNotFound`` / ``BadRequest``, as with the replay provider.

``run_live`` runs one profile over every task of a view, in order, and returns, per task, the
model whose answer came back, its text and the run's whole cost, scored by the recorded verdict
of that model's answer (the answer is the recorded text, or that text without the confidence line
a ``min_confidence`` gate removes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping, Sequence

from mmo.app.bench.tune_data import TuneView
from mmo.app.bench.tune_sim import Figures
from mmo.app.engine import open_engine
from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv, RunSettings
from mmo.config.schema import Profile
from mmo.core.errors import BadRequest, ModelNotFound
from mmo.core.protocols import Provider
from mmo.core.types import Completion, Cost, Delta, Request, Usage
from mmo.strategies.gates.confidence import split_confidence


class BenchReplay:
    """Answers of the benchmarked models of one provider, from a view's recordings."""

    def __init__(self, name: str, view: TuneView) -> None:
        self.name = name
        self.view = view
        self.index = {task.id: n for n, task in enumerate(view.tasks)}
        self.labels = {model_id.partition(":")[2]: label for label, model_id in view.model_ids.items() if model_id.partition(":")[0] == name}

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "bench-replay", "provider": self.name, "cacheable": False}

    async def complete(self, request: Request, model: str) -> Completion:
        label = self.labels.get(model)
        if label is None:
            raise ModelNotFound(f"the bench run has no answers of {self.name}:{model}", provider=self.name, model=model)
        index = self.index.get(request.metadata.get("id", ""))
        if index is None:
            raise BadRequest(f"no task with id {request.metadata.get('id')!r} in the bench run", provider=self.name, model=model)
        answer = self.view.answers[label][index]
        return Completion(
            text=answer.text,
            model_id=f"{self.name}:{model}",
            usage=Usage(answer.input_tokens, answer.output_tokens),
            reported_model=model,
            cost=Cost(answer.cost_usd, "recorded"),
            latency_ms=answer.latency_ms or 0.0,
            avg_logprob=answer.avg_logprob,
        )

    async def stream(self, request: Request, model: str) -> AsyncIterator[Delta]:
        completion = await self.complete(request, model)
        yield Delta(text=completion.text)
        yield Delta(final=completion)


@dataclass(frozen=True, slots=True)
class LiveTask:
    model: str | None  # the label of the model whose answer came back; None: the run failed
    cost_usd: float
    correct: bool
    text: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LiveRun:
    tasks: tuple[LiveTask, ...]

    @property
    def figures(self) -> Figures:
        return Figures(len(self.tasks), sum(t.correct for t in self.tasks), sum(t.cost_usd for t in self.tasks))

    @property
    def errors(self) -> int:
        return sum(t.error is not None for t in self.tasks)


def bench_providers(view: TuneView) -> dict[str, Provider]:
    names = {model_id.partition(":")[0] for model_id in view.model_ids.values()}
    return {name: BenchReplay(name, view) for name in sorted(names)}


async def run_live(profile: Profile, view: TuneView, env: AppEnv) -> LiveRun:
    """``profile`` run on every task of ``view`` (no cache, no run log, nothing sent anywhere)."""
    settings = RunSettings(read_cache=False, write_cache=False)
    by_model_id = {model_id: label for label, model_id in view.model_ids.items()}
    resolved = ResolvedProfile(profile, "mmo tune", profile.name)
    done: list[LiveTask] = []
    async with open_engine(settings, env, resolved=resolved, providers=bench_providers(view), log_runs=False) as engine:
        for index, task in enumerate(view.tasks):
            outcome = await engine.run(task.request)
            cost = outcome.total_cost.usd or 0.0
            if outcome.completion is None:
                done.append(LiveTask(None, cost, False, None, f"{type(outcome.error).__name__}: {outcome.error}"))
                continue
            label = by_model_id.get(outcome.completion.model_id)
            done.append(LiveTask(label, cost, _verdict(view, label, index, outcome.completion.text), outcome.completion.text))
    return LiveRun(tuple(done))


def _verdict(view: TuneView, label: str | None, index: int, text: str) -> bool:
    """The recorded verdict of the answer that came back (its text as recorded, or cleaned)."""
    if label is None:
        return False
    recorded = view.answers[label][index]
    return recorded.correct and text in (recorded.text, split_confidence(recorded.text)[0])


def mismatches(live: LiveRun, simulated: Sequence[tuple[str | None, float]]) -> list[int]:
    """Tasks where the live run's answering model or cost differs from the simulation's."""
    return [n for n, (task, (model, cost)) in enumerate(zip(live.tasks, simulated, strict=True)) if task.model != model or abs(task.cost_usd - cost) > 1e-12 + 1e-9 * cost]

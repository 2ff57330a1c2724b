"""Ensemble: members answer the same request concurrently; one answer comes out.

* ``vote``: each member's answer is reduced by the one extractor (``extract: choice`` takes the
  letter out of "... The answer is (C)."); the value with most votes wins. A tie goes to the value
  of the member listed first in ``tie_break`` (member labels, most trusted first), then to the
  member listed first in the ensemble. The answer returned is the first member's answer (in member
  order) that carries the winning value. Fewer than ``min_votes`` agreeing answers is a
  ``NoConsensus`` error, which a fallback above can move past (to a stronger model, say).
* ``judge``: the judge node sees the question and every answer, numbered, and replies with the
  number of the best one; that member's answer is returned. A reply that is not exactly a number
  in range, or a failed judge call, falls back to the vote (noted).
* ``aggregate`` (mixture of agents): the judge node reads the question and every answer and writes
  one answer itself, which is returned under its own model id. It may stream: it is the output.

Members never stream (their answers are judged before one is shown). A member that fails is
recorded and left out; when fewer answers than needed remain, ``AllAttemptsFailed`` holds the
members' errors. Every member's and the judge's cost counts: they are all attempts in the trace.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence, cast

from pydantic import Field

from mmo.core.errors import AllAttemptsFailed, ConfigError, MmoError, NoConsensus, one_line
from mmo.core.estimate import CostRange, sequence
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Params, Request
from mmo.spec.base import Spec
from mmo.spec.extract import ExtractSpec
from mmo.strategies.kinds import Builder, StrategyKind

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec

Combine = Literal["vote", "judge", "aggregate"]


class EnsembleSpec(Spec):
    """Members run concurrently; their answers are combined by vote, a judge, or an aggregator."""

    ensemble: list[NodeSpec] = Field(min_length=2)
    combine: Combine = "vote"
    extract: ExtractSpec = "choice"
    judge: NodeSpec | None = Field(default=None, description="the model that judges or aggregates")
    min_votes: int | None = Field(default=None, ge=1, description="vote: fewer agreeing answers is a failure")
    tie_break: list[str] | None = Field(default=None, description="vote: member labels in order of trust")


@dataclass(frozen=True, slots=True)
class Answer:
    """A member's successful answer, under the member's label."""

    label: str
    completion: Completion


@dataclass(frozen=True, slots=True)
class VoteResult:
    winner: str | None
    count: int
    summary: str  # "C x2 (flash, pro), A x1 (llama)"
    tie_broken_by: str | None = None  # the member whose rank settled a tie


def count_votes(ballots: Sequence[tuple[str, str | None]], tie_break: Sequence[str] = ()) -> VoteResult:
    """``ballots`` are (member label, extracted value or None) in member order. The most voted
    value wins; among tied values, the one whose best-ranked supporter comes first in
    ``tie_break``, then in member order."""
    supporters: dict[str, list[str]] = {}
    rank: dict[str, int] = {}
    for position, (label, value) in enumerate(ballots):
        if value is None:
            continue
        supporters.setdefault(value, []).append(label)
        member_rank = tie_break.index(label) if label in tie_break else len(tie_break) + position
        rank[value] = min(rank.get(value, member_rank), member_rank)
    if not supporters:
        return VoteResult(None, 0, "no extractable answers")
    ordered = sorted(supporters, key=lambda value: (-len(supporters[value]), rank[value]))
    summary = ", ".join(f"{v} x{len(supporters[v])} ({', '.join(supporters[v])})" for v in ordered)
    winner = ordered[0]
    tied = [v for v in ordered if len(supporters[v]) == len(supporters[winner])]
    settled_by = _best_ranked(supporters[winner], tie_break, ballots) if len(tied) > 1 else None
    return VoteResult(winner, len(supporters[winner]), summary, settled_by)


def _best_ranked(labels: Sequence[str], tie_break: Sequence[str], ballots: Sequence[tuple[str, str | None]]) -> str:
    order = [*tie_break, *(label for label, _ in ballots)]
    return min(labels, key=order.index)


class EnsembleNode:
    kind = "ensemble"
    runs_children_together = True  # members / branches in flight at once: pools are sized for them

    def __init__(
        self,
        members: Sequence[Node],
        combine: Combine = "vote",
        *,
        extract: Callable[[str], str | None] | None = None,
        extract_name: str = "choice",
        judge: Node | None = None,
        min_votes: int | None = None,
        tie_break: Sequence[str] = (),
        label: str = "ensemble",
    ) -> None:
        self.members = tuple(members)
        self.combine = combine
        if extract is None:
            from mmo.strategies.extract import extractor

            extract = extractor(cast(ExtractSpec, extract_name))
        self.extract = extract
        self.extract_name = extract_name
        self.judge = judge
        self.min_votes = min_votes
        self.tie_break = tuple(tie_break)
        self.label = label

    def children(self) -> Sequence[Node]:
        return self.members + ((self.judge,) if self.judge is not None else ())

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """Every member, then (judge, aggregate) the judge reading every member's answer."""
        members = [est.range(member, request) for member in self.members]
        spent = sequence(members)
        if self.judge is None or self.combine == "vote":
            return spent
        judge = self.judge

        def judged(scenario: str) -> CostRange:
            lengths = [getattr(member, scenario).answer_tokens for member in members]
            return est.range(judge, self._judge_request(request, lengths, est))

        tail = CostRange(judged("best").best, judged("expected").expected, judged("worst").worst)
        return spent.then(tail)

    def _judge_request(self, request: Request, lengths: Sequence[float], est: Estimator) -> Request:
        """What the judge (or aggregator) is asked, with stand-ins for answers not yet written."""
        stand_ins = [Answer(f"m{n}", Completion(est.stand_in(tokens), "")) for n, tokens in enumerate(lengths)]
        question = request.last_user_text()
        if self.combine == "aggregate":
            return _derived_request(request, aggregate_prompt(question, stand_ins), keep_params=True, keep_system=True)
        return _derived_request(request, judge_prompt(question, stand_ins), keep_params=False, keep_system=False)

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        answers, errors = await self._ask_members(request, ctx)
        needed = (self.min_votes or 1) if self.combine == "vote" else 1
        if len(answers) < needed:
            raise AllAttemptsFailed(f"{self.label}: {len(answers)} of {len(self.members)} members answered, {needed} needed", errors)
        if self.combine == "judge":
            return await self._judge(request, answers, ctx)
        if self.combine == "aggregate":
            return await self._aggregate(request, answers, ctx)
        return self._vote(answers, ctx)

    # --- members ---------------------------------------------------------------------------

    async def _ask_members(self, request: Request, ctx: RunContext) -> tuple[list[Answer], list[BaseException]]:
        outcomes = await _all_settled([ctx.call(member, request, stream=False) for member in self.members])
        answers: list[Answer] = []
        errors: list[BaseException] = []
        for member, outcome in zip(self.members, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                errors.append(outcome)
                ctx.note(f"{member.label} failed and is left out: {one_line(outcome)}", member=member.label, error=type(outcome).__name__)
            else:
                answers.append(Answer(member.label, outcome))
        if errors:
            ctx.note(f"{len(answers)} of {len(self.members)} members answered")
        return answers, errors

    # --- vote ------------------------------------------------------------------------------

    def _vote(self, answers: Sequence[Answer], ctx: RunContext) -> Completion:
        values = [(a.label, self.extract(a.completion.text)) for a in answers]
        result = count_votes(values, self.tie_break)
        abstained = [label for label, value in values if value is None]
        abstain_note = f"; no {self.extract_name} answer from {', '.join(abstained)}" if abstained else ""
        ctx.note(f"votes: {result.summary}{abstain_note}", votes=result.summary, abstained=abstained)
        needed = self.min_votes or 1
        if result.winner is None or result.count < needed:
            reason = "no extractable answer" if result.winner is None else f"no answer reached {needed} votes"
            ctx.note(f"no consensus: {reason}")
            raise NoConsensus(f"{self.label}: {reason} (votes: {result.summary}{abstain_note})", votes=result.summary)
        if result.tie_broken_by is not None:
            ctx.note(f"tie broken in favour of {result.winner}, the answer of {result.tie_broken_by}", tie_break=result.tie_broken_by)
        chosen = next(a for a, (_, value) in zip(answers, values, strict=True) if value == result.winner)
        ctx.note(f"{result.winner} wins with {result.count} of {len(self.members)} votes; answer from {chosen.label}", winner=result.winner)
        return chosen.completion

    # --- judge -----------------------------------------------------------------------------

    async def _judge(self, request: Request, answers: Sequence[Answer], ctx: RunContext) -> Completion:
        assert self.judge is not None
        if len(answers) == 1:
            ctx.note(f"only {answers[0].label} answered; nothing to judge")
            return answers[0].completion
        judge_request = _derived_request(request, judge_prompt(request.last_user_text(), answers), keep_params=False, keep_system=False)
        try:
            verdict = await ctx.call(self.judge, judge_request, stream=False)
        except (MmoError, AllAttemptsFailed) as error:
            ctx.note(f"judge {self.judge.label} failed ({one_line(error)}); falling back to a vote")
            return self._vote(answers, ctx)
        number = parse_choice_number(verdict.text, len(answers))
        if number is None:
            ctx.note(f"judge reply {_clip(verdict.text)!r} is not a number from 1 to {len(answers)}; falling back to a vote")
            return self._vote(answers, ctx)
        chosen = answers[number - 1]
        ctx.note(f"judge {self.judge.label} picked answer {number} ({chosen.label})", picked=chosen.label)
        return chosen.completion

    # --- aggregate -------------------------------------------------------------------------

    async def _aggregate(self, request: Request, answers: Sequence[Answer], ctx: RunContext) -> Completion:
        assert self.judge is not None
        prompt = aggregate_prompt(request.last_user_text(), answers)
        ctx.note(f"{self.judge.label} writes one answer from {len(answers)} answers ({', '.join(a.label for a in answers)})")
        return await ctx.call(self.judge, _derived_request(request, prompt, keep_params=True, keep_system=True), stream=True)


# --- prompts and parsing -----------------------------------------------------------------------

_JUDGE_INSTRUCTIONS = (
    "You are judging candidate answers to a question. Pick the best one: the most correct, complete "
    "and directly responsive answer."
)
_AGGREGATE_INSTRUCTIONS = (
    "Below are a question and candidate answers written by different AI models. Write the best possible "
    "answer to the question yourself. Use what is right in the candidates, correct what is wrong, and do "
    "not copy their mistakes. Reply with the answer only; do not mention the candidates."
)


def _numbered(answers: Sequence[Answer], heading: str) -> str:
    return "\n\n".join(f"{heading} {n}:\n<<<\n{a.completion.text.strip()}\n>>>" for n, a in enumerate(answers, 1))


def judge_prompt(question: str, answers: Sequence[Answer]) -> str:
    return (
        f"{_JUDGE_INSTRUCTIONS}\n\nQuestion:\n<<<\n{question.strip()}\n>>>\n\n{_numbered(answers, 'Answer')}\n\n"
        f"Reply with only the number of the best answer (1 to {len(answers)}) and nothing else."
    )


def aggregate_prompt(question: str, answers: Sequence[Answer]) -> str:
    return f"{_AGGREGATE_INSTRUCTIONS}\n\nQuestion:\n<<<\n{question.strip()}\n>>>\n\n{_numbered(answers, 'Candidate')}"


_NUMBER_REPLY = re.compile(r"\s*[(\[#]?\s*(\d{1,3})\s*[)\]]?\s*\.?\s*")


def parse_choice_number(text: str, count: int) -> int | None:
    """The judge's pick: a reply that is exactly a number (``2``, ``(2)``, ``[2]``, ``#2``,
    ``2.``) from 1 to ``count``; anything else is ``None``, never a guess."""
    match = _NUMBER_REPLY.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= count else None


def _derived_request(request: Request, prompt: str, *, keep_params: bool, keep_system: bool) -> Request:
    """A new single-turn request; metadata and tags stay (router rules, run log). A judge gets
    default parameters: the user's (a JSON response format, say) are meant for the answer."""
    return Request.from_prompt(
        prompt,
        system=request.system if keep_system else None,
        params=request.params if keep_params else Params(),
        metadata=request.metadata,
        tags=request.tags,
    )


async def _all_settled(calls: Sequence[Any]) -> list[Completion | BaseException]:
    """Run every call at once; each result is a completion or the ``MmoError`` it raised. Any
    other exception (a bug, a cancellation of the ensemble) cancels the rest and propagates."""

    async def settle(call: Any) -> Completion | BaseException:
        try:
            answer: Completion = await call
            return answer
        except (MmoError, AllAttemptsFailed) as error:
            return error

    tasks = [asyncio.create_task(settle(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _clip(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"



# --- building ----------------------------------------------------------------------------------


def build(builder: Builder, spec: EnsembleSpec) -> Node:
    from mmo.strategies.extract import describe, extractor

    members = [builder.build(child) for child in spec.ensemble]
    _check_spec(spec, [m.label for m in members])
    judge = builder.build(spec.judge) if spec.judge is not None else None
    return EnsembleNode(
        members,
        spec.combine,
        extract=extractor(spec.extract),
        extract_name=describe(spec.extract),
        judge=judge,
        min_votes=spec.min_votes,
        tie_break=spec.tie_break or (),
    )


def _check_spec(spec: EnsembleSpec, labels: Sequence[str]) -> None:
    if spec.combine in ("judge", "aggregate") and spec.judge is None:
        raise ConfigError(f"ensemble: combine: {spec.combine} needs a judge: the model that {'picks' if spec.combine == 'judge' else 'writes'} the answer")
    if spec.combine == "vote" and spec.judge is not None:
        raise ConfigError("ensemble: a judge is used only with combine: judge or combine: aggregate")
    if spec.combine == "aggregate" and (spec.min_votes is not None or spec.tie_break):
        raise ConfigError("ensemble: min_votes and tie_break apply to combine: vote (and judge, which falls back to a vote)")
    if spec.min_votes is not None and spec.min_votes > len(labels):
        raise ConfigError(f"ensemble: min_votes is {spec.min_votes} but there are only {len(labels)} members")
    duplicates = [label for label, n in Counter(labels).items() if n > 1]
    for label in spec.tie_break or ():
        if label not in labels:
            raise ConfigError(f"ensemble: tie_break names {label!r}, which is not a member; members: {', '.join(labels)}")
        if label in duplicates:
            raise ConfigError(f"ensemble: tie_break names {label!r}, which is more than one member")


KIND = StrategyKind("ensemble", EnsembleSpec, build, specs=(EnsembleSpec,))

"""``mmo batch --dry-run``: tokens and cost per model before any call, as a range from the
cheapest path through the strategy to the dearest.

For each row the strategy tree is walked twice over, once for the path that spends least and
once for the path that spends most (one small function per node kind, in ``_KINDS``):

==========  =====================================  ==============================================
kind        cheapest path                          dearest path
==========  =====================================  ==============================================
model       one call                               one call
fallback    the first child answers                every child is asked (all fail over)
cascade     the first tier is accepted (its        every tier answers and is rejected, every gate
            model-calling gates run)               that calls a model (agree, judge) runs on each
router      the branch its rules pick (evaluated   the same; with no rule matching: the classifier
            offline: tags, metadata, tokens,       call plus the dearest of its branches and the
            keywords, regex, pii, complexity);     default
            else the classifier call plus the
            cheapest of its branches and the
            default
ensemble    every member, plus the judge           the same, each member at its dearest
pipeline    every step (and its check's calls)     every step, a ``repair`` step asked twice
hedge       the first child                        every child
slo         the primary                            the primary, then ``otherwise``
==========  =====================================  ==============================================

One call is priced as estimated prompt tokens x input price + output tokens x output price.
Prompt tokens come from the one token estimator (chars/4, corrected per model by the ratio
learnt from the run log: ``learnt_estimator``). Output tokens are the call's ``max_tokens`` (the
request's, else the model's, else the profile's defaults), or ``DEFAULT_OUTPUT_TOKENS`` (4,096)
when none is set anywhere: the same worst case ``--max-cost`` reserves, so a dry run errs high
rather than promising a cost the run then passes. Text a call is given that only exists at run
time (an answer a judge reads, an earlier pipeline step's output) is counted at that answer's
output tokens.

Replay models (the offline demo) have recordings, not prices: a row whose task is recorded for
the model is counted at its recorded tokens and cost, exactly what the run will report. A model
priced nowhere has an unknown cost, never $0: its rows are counted and flagged, and the totals
are then the known part only.

Requests are streamed: only per-model sums are kept, so 100,000 rows take no more memory than 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from mmo.core.types import Completion, Params, Request
from mmo.runtime.call_estimate import DEFAULT_OUTPUT_TOKENS
from mmo.runtime.context import ModelTarget
from mmo.runtime.tokens import CHARS_PER_TOKEN, TokenEstimator

if TYPE_CHECKING:
    from mmo.app.session import Session
    from mmo.core.protocols import Node
    from mmo.runtime.prices import ModelPrice

PER_MTOK = 1_000_000
RECORDED_SOURCE = "recorded"
UNKNOWN_SOURCE = "unknown"


# --- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    """One model over the whole batch. ``rows``: rows that may reach it (on their cheapest or
    their dearest path: a router's classifier may pick either). Tokens and cost are summed over
    the cheapest (``_low``) and the dearest (``_high``) path of every row. ``unknown_price_rows``
    of those rows have no price for this model and are left out of its cost, which is ``None``
    when no row has one (a model priced nowhere)."""

    model_id: str
    rows: int
    input_tokens_low: int
    input_tokens_high: int
    output_tokens_low: int
    output_tokens_high: int
    cost_low_usd: float | None
    cost_high_usd: float | None
    price_source: str
    unknown_price_rows: int = 0

    @property
    def price_known(self) -> bool:
        """Whether every row's call of this model has a price."""
        return self.unknown_price_rows == 0


@dataclass(frozen=True, slots=True)
class BatchEstimate:
    """The dry run's answer. ``low_usd`` / ``high_usd`` sum the known costs; when
    ``unknown_price_rows`` is above 0, those rows may reach a model with no price and the totals
    leave those calls out (a lower bound). ``method`` says how prompt tokens were counted, ``output_method`` how output
    tokens were, and ``notes`` anything else the reader should know."""

    rows: int
    models: tuple[ModelEstimate, ...]
    low_usd: float
    high_usd: float
    unknown_price_rows: int
    method: str
    output_method: str
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every row's cost is known."""
        return self.unknown_price_rows == 0


def estimate_batch(session: Session, requests: Iterable[Request], tokens: TokenEstimator) -> BatchEstimate:
    """Estimate what running ``requests`` through ``session``'s strategy would cost, without
    calling any model. ``requests`` is consumed once, row by row."""
    walker = _Walker(session, tokens)
    totals = _Totals()
    for request in requests:
        totals.add(walker.range(session.root, request))
    return totals.result(walker, _leaf_ids(session.root))


def learnt_estimator(session: Session) -> TokenEstimator:
    """The session's token estimator: each of the profile's models' ratio as the run log observed
    it when the session opened (chars/4 for a model with too little history)."""
    return session.services.tokens


# --- paths ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One model call of a path. ``usd`` is ``None`` when the model's price is unknown."""

    model_id: str
    input_tokens: int
    output_tokens: int
    usd: float | None
    source: str


Calls = tuple[Call, ...]


@dataclass(frozen=True, slots=True)
class Range:
    """The calls of a node's cheapest and dearest path for one request."""

    low: Calls
    high: Calls

    def then(self, other: Range) -> Range:
        """Both, one after (or beside) the other."""
        return Range(self.low + other.low, self.high + other.high)


NOTHING = Range((), ())


def path_key(path: Calls) -> tuple[float, int]:
    """What "cheaper" means: known dollars first, then tokens (which decide among unknown prices)."""
    return (sum(c.usd for c in path if c.usd is not None), sum(c.input_tokens + c.output_tokens for c in path))


def answer_tokens(path: Calls) -> int:
    """Output tokens of the answer a path ends with (its last call's)."""
    return path[-1].output_tokens if path else 0


def placeholder(tokens: int) -> str:
    """Text that the token estimator counts as ``tokens`` tokens: stands for an answer not yet written."""
    return "x" * (tokens * CHARS_PER_TOKEN)


def sequence(ranges: Iterable[Range]) -> Range:
    out = NOTHING
    for item in ranges:
        out = out.then(item)
    return out


# --- the walk ------------------------------------------------------------------------------------


class _Walker:
    """Prices calls and walks nodes for one session; remembers each model's price."""

    def __init__(self, session: Session, tokens: TokenEstimator) -> None:
        self.session = session
        self.tokens = tokens
        self.rule_tokens = session.services.tokens  # what the router's rules count with at run time
        self._prices: dict[str, ModelPrice | None] = {}
        self._replay: dict[str, Any] = {}
        self.defaulted_output = False
        self.recorded_calls = 0
        self.notes: list[str] = []

    def range(self, node: Node, request: Request) -> Range:
        kind_range = _KINDS.get(node.kind)
        if kind_range is None:
            self.note(f"no estimate rule for strategy kind {node.kind!r}: counted as its first child (low) or every child (high)")
            kind_range = _first_or_every
        return kind_range(self, node, request)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def call(self, target: ModelTarget, request: Request) -> Call:
        recorded = self._recorded(target, request)
        if recorded is not None:
            return recorded
        max_tokens = request.params.max_tokens if request.params.max_tokens is not None else target.params.max_tokens
        if max_tokens is None:
            self.defaulted_output = True
            max_tokens = DEFAULT_OUTPUT_TOKENS
        input_tokens = self.tokens.estimate(request.prompt_text(), target.id)
        price = self._price(target)
        return Call(target.id, input_tokens, max_tokens, _usd(price, input_tokens, max_tokens), price.source if price else UNKNOWN_SOURCE)

    def _price(self, target: ModelTarget) -> ModelPrice | None:
        if target.id not in self._prices:
            self._prices[target.id] = self.session.services.prices.lookup(target.ref)
        return self._prices[target.id]

    def _recorded(self, target: ModelTarget, request: Request) -> Call | None:
        """A replay model's recorded tokens and cost for this row, when it has them."""
        provider = self._replay_provider(target.ref.provider)
        if provider is None:
            return None
        from mmo.core.errors import BadRequest

        try:
            task = provider.replay_file().find(request)
        except BadRequest:
            return None
        recording = task.models.get(target.ref.name)
        if recording is None or recording.cost_usd is None:
            return None
        self.recorded_calls += 1
        return Call(target.id, recording.input_tokens, recording.output_tokens, recording.cost_usd, RECORDED_SOURCE)

    def _replay_provider(self, name: str) -> Any:
        if name not in self._replay:
            pool = self.session.services.providers
            settings = pool.settings(name)
            self._replay[name] = pool.get(name) if settings is not None and settings.kind == "replay" else None
        return self._replay[name]


def _usd(price: ModelPrice | None, input_tokens: int, output_tokens: int) -> float | None:
    if price is None or price.input_per_mtok is None or price.output_per_mtok is None:
        return None
    return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / PER_MTOK


# --- one function per node kind ------------------------------------------------------------------


def _model(walker: _Walker, node: Any, request: Request) -> Range:
    path = (walker.call(node.target, request),)
    return Range(path, path)


def _first_or_every(walker: _Walker, node: Any, request: Request) -> Range:
    """Fallback and hedge: the first child answers, or every child is asked (fails over, or
    is started because the earlier ones are slow); also the rule for a kind with none of its own."""
    children = [walker.range(child, request) for child in node.children()]
    if not children:
        return NOTHING
    return Range(children[0].low, tuple(call for child in children for call in child.high))


def _slo(walker: _Walker, node: Any, request: Request) -> Range:
    primary, otherwise = walker.range(node.primary, request), walker.range(node.otherwise, request)
    return Range(primary.low, primary.high + otherwise.high)


def _gate_call(walker: _Walker, node: Any, request: Request) -> Range:
    return walker.range(node.node, request)


def _cascade(walker: _Walker, node: Any, request: Request) -> Range:
    prepared = node.gates.prepare(request)
    tiers = [walker.range(tier, prepared) for tier in node.tiers]
    last = len(tiers) - 1

    def gated(position: int, path: Calls, pick: Callable[[Range], Calls]) -> Calls:
        model_gates = not (position == last and node.on_exhausted == "last")
        return path + (pick(_gate_calls(walker, node.gates, request, answer_tokens(path))) if model_gates else ())

    low = gated(0, tiers[0].low, lambda r: r.low)
    high: Calls = ()
    for position, tier in enumerate(tiers):
        high += gated(position, tier.high, lambda r: r.high)
    return Range(low, high)


def _gate_calls(walker: _Walker, gates: Any, request: Request, answer: int) -> Range:
    """The calls a set of gates makes to judge one answer of ``answer`` output tokens."""
    from mmo.strategies.gates import AgreeGate, JudgeGate, judge_request

    out = NOTHING
    for gate in gates.gates:
        if isinstance(gate, AgreeGate):
            out = out.then(walker.range(gate.call, request))
        elif isinstance(gate, JudgeGate):
            out = out.then(walker.range(gate.call, judge_request(request, placeholder(answer), gate.rubric)))
        elif getattr(gate, "calls_models", False):
            out = out.then(sequence(walker.range(n, request) for n in gate.nodes()))
    return out


def _router(walker: _Walker, node: Any, request: Request) -> Range:
    from mmo.strategies.router_rules import RequestFacts

    facts = RequestFacts(request, walker.rule_tokens)
    for rule in node.rules:
        if rule.reasons(facts) is not None:
            return walker.range(rule.node, request)
    classifier = node.classifier
    if classifier is None:
        return walker.range(node.default, request)
    question = classifier.request_for(request)
    if classifier.skip_when_pii and _holds_pii(question, facts):
        return walker.range(node.default, request)  # the router skips the classifier then
    branches = [walker.range(b, request) for b in dict.fromkeys((*classifier.labels.values(), node.default))]
    cheapest = min((b.low for b in branches), key=path_key)
    dearest = max((b.high for b in branches), key=path_key)
    return walker.range(classifier.model, question).then(Range(cheapest, dearest))


def _holds_pii(question: Request, facts: Any) -> bool:
    """Whether the classifier's question holds personal data, as the router checks it. The
    question is the request's last user message under a fixed instruction: when a rule already
    found nothing in the whole request, there is nothing to find in it."""
    from mmo.runtime.pii import detect_pii
    from mmo.runtime.privacy import outgoing_text

    if not facts.pii():
        return False
    return bool(detect_pii(outgoing_text(question)))


def _ensemble(walker: _Walker, node: Any, request: Request) -> Range:
    members = [walker.range(member, request) for member in node.members]
    spent = sequence(members)
    if node.judge is None or node.combine not in ("judge", "aggregate"):
        return spent
    low = walker.range(node.judge, _judge_request(node, request, [answer_tokens(m.low) for m in members])).low
    high = walker.range(node.judge, _judge_request(node, request, [answer_tokens(m.high) for m in members])).high
    return spent.then(Range(low, high))


def _judge_request(node: Any, request: Request, answers: Sequence[int]) -> Request:
    """What the ensemble's judge (or aggregator) is asked, with stand-ins for the answers; as
    ``mmo.strategies.ensemble`` builds it (a judge gets default parameters, an aggregator the
    user's)."""
    from mmo.strategies.ensemble import Answer, aggregate_prompt, judge_prompt

    stand_ins = [Answer(f"m{n}", Completion(placeholder(tokens), "")) for n, tokens in enumerate(answers)]
    question = request.last_user_text()
    if node.combine == "aggregate":
        prompt = aggregate_prompt(question, stand_ins)
        return Request.from_prompt(prompt, system=request.system, params=request.params, metadata=request.metadata, tags=request.tags)
    return Request.from_prompt(judge_prompt(question, stand_ins), params=Params(), metadata=request.metadata, tags=request.tags)


def _pipeline(walker: _Walker, node: Any, request: Request) -> Range:
    from mmo.strategies.pipeline import INPUT

    values: dict[str, str] = {INPUT: request.last_user_text()}
    out = NOTHING
    for step in node.steps:
        step_range = walker.range(step, step.request_for(values, request))
        values[step.name] = placeholder(answer_tokens(step_range.high))
        out = out.then(step_range)
    return out


def _step(walker: _Walker, node: Any, request: Request) -> Range:
    if node.gates is None:
        return walker.range(node.node, request)
    prepared = node.gates.prepare(request)
    answer = walker.range(node.node, prepared)
    checked = answer.then(_gate_calls(walker, node.gates, request, answer_tokens(answer.high)))
    if node.on_fail != "repair":
        return checked
    from mmo.strategies.gates import GateResult
    from mmo.strategies.pipeline import repair_request

    failure = GateResult(False, "check", "the answer did not pass")
    again = walker.range(node.node, repair_request(prepared, placeholder(answer_tokens(answer.high)), failure))
    rechecked = again.then(_gate_calls(walker, node.gates, request, answer_tokens(again.high)))
    return Range(checked.low, checked.high + rechecked.high)


_KINDS: Mapping[str, Callable[[_Walker, Any, Request], Range]] = {
    "model": _model,
    "fallback": _first_or_every,
    "hedge": _first_or_every,
    "slo": _slo,
    "cascade": _cascade,
    "gate": _gate_call,
    "router": _router,
    "ensemble": _ensemble,
    "pipeline": _pipeline,
    "step": _step,
}


# --- summing up ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _ModelSums:
    rows: int = 0
    input_low: int = 0
    input_high: int = 0
    output_low: int = 0
    output_high: int = 0
    usd_low: float = 0.0
    usd_high: float = 0.0
    priced_rows: int = 0
    unknown_rows: int = 0
    sources: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class _Totals:
    rows: int = 0
    low_usd: float = 0.0
    high_usd: float = 0.0
    unknown_price_rows: int = 0
    models: dict[str, _ModelSums] = field(default_factory=dict)

    def add(self, row: Range) -> None:
        self.rows += 1
        for call in row.low:
            sums = self._sums(call)
            sums.input_low += call.input_tokens
            sums.output_low += call.output_tokens
            sums.usd_low += call.usd or 0.0
            self.low_usd += call.usd or 0.0
        for call in row.high:
            sums = self._sums(call)
            sums.input_high += call.input_tokens
            sums.output_high += call.output_tokens
            sums.usd_high += call.usd or 0.0
            self.high_usd += call.usd or 0.0
        self._count_rows(row)

    def _count_rows(self, row: Range) -> None:
        unknown: set[str] = set()
        for call in (*row.low, *row.high):
            if call.usd is None:
                unknown.add(call.model_id)
        for model_id in dict.fromkeys(call.model_id for call in (*row.low, *row.high)):
            sums = self.models[model_id]
            sums.rows += 1
            if model_id in unknown:
                sums.unknown_rows += 1
            else:
                sums.priced_rows += 1
        if unknown:
            self.unknown_price_rows += 1

    def _sums(self, call: Call) -> _ModelSums:
        sums = self.models.setdefault(call.model_id, _ModelSums())
        sums.sources[call.source] = None
        return sums

    def result(self, walker: _Walker, tree_order: Sequence[str]) -> BatchEstimate:
        order = {model_id: n for n, model_id in enumerate(tree_order)}
        models = tuple(
            _model_estimate(model_id, self.models[model_id])
            for model_id in sorted(self.models, key=lambda m: (order.get(m, len(order)), m))
        )
        return BatchEstimate(
            rows=self.rows,
            models=models,
            low_usd=self.low_usd,
            high_usd=self.high_usd,
            unknown_price_rows=self.unknown_price_rows,
            method=_input_method(walker, tree_order),
            output_method=_output_method(walker),
            notes=tuple(walker.notes),
        )


def _model_estimate(model_id: str, sums: _ModelSums) -> ModelEstimate:
    sources = [s for s in sums.sources if s != UNKNOWN_SOURCE]
    source = " + ".join(sources) if sources else UNKNOWN_SOURCE
    if sums.unknown_rows and sources:
        source = f"{source}; unknown for {sums.unknown_rows} row{'' if sums.unknown_rows == 1 else 's'}"
    priced = sums.priced_rows > 0
    return ModelEstimate(
        model_id=model_id,
        rows=sums.rows,
        input_tokens_low=sums.input_low,
        input_tokens_high=sums.input_high,
        output_tokens_low=sums.output_low,
        output_tokens_high=sums.output_high,
        cost_low_usd=sums.usd_low if priced else None,
        cost_high_usd=sums.usd_high if priced else None,
        price_source=source,
        unknown_price_rows=sums.unknown_rows,
    )


def _input_method(walker: _Walker, model_ids: Sequence[str]) -> str:
    """``chars/4 (no history)``, or each learnt ratio with the model it was learnt from."""
    tokens = walker.tokens
    learnt = [f"{tokens.method(m)} of {m}" for m in dict.fromkeys(model_ids) if tokens.ratio(m) is not None]
    base = f"chars/{CHARS_PER_TOKEN}"
    if not learnt:
        method = f"{base} (no history)"
    else:
        rest = [m for m in dict.fromkeys(model_ids) if tokens.ratio(m) is None]
        method = "; ".join(learnt) + (f"; {base} (no history) for the others" if rest else "")
    if walker.recorded_calls:
        method += "; replay models: recorded tokens and cost"
    return method


def _output_method(walker: _Walker) -> str:
    if walker.defaulted_output:
        return f"max_tokens, or {DEFAULT_OUTPUT_TOKENS} where none is set (set defaults.max_tokens for a tighter estimate)"
    return "max_tokens"


def _leaf_ids(root: Node) -> list[str]:
    from mmo.app.session import leaf_targets

    return list(dict.fromkeys(target.id for target in leaf_targets(root)))


__all__ = ["BatchEstimate", "Call", "ModelEstimate", "Range", "estimate_batch", "learnt_estimator"]

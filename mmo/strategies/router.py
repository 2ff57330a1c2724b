"""Router: rules in order, first match wins; then the intent classifier; then the default.

::

    strategy:
      router:
        rules:
          - {when: {pii: true}, use: private}                  # never leaves the machine
          - {when: {keywords: [contract, GDPR]}, use: smart}
          - {when: {tokens_over: 6000}, use: long-context}
          - {when: {complexity_over: 0.35}, use: smart}
        classify: {model: small, labels: {code: coder, chat: fast}}
        default: fast

A rule's ``when`` conditions must all hold (see ``mmo.strategies.router_rules`` for each one and
what text it reads). The chosen branch runs as a pass-through (it may stream to the user); the
classifier never streams. The trace records which rule matched and why, or that none did, the
PII kinds and complexity score when a rule needed them, and the classifier's label.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, Sequence

from pydantic import Field

from mmo.core.errors import AllAttemptsFailed, ContextTooLong, MissingCapability, MmoError, one_line
from mmo.core.estimate import CostRange, one_of
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.strategies.kinds import Builder, StrategyKind
from mmo.strategies.router_when import WhenSpec

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec
    from mmo.strategies.classifier import IntentClassifier
    from mmo.strategies.router_rules import RequestFacts, Rule


class ClassifySpec(Spec):
    """A small model labels the prompt (after every rule failed to match); each label maps to a
    branch. A label outside the list (or a failed call) falls through to the default."""

    model: NodeSpec
    labels: dict[str, NodeSpec] = Field(min_length=1)
    instructions: str | None = Field(default=None, description="extra guidance for the classifier")
    max_tokens: int = Field(default=16, gt=0, description="answer budget; raise it for reasoning models, which think before answering")


class RuleSpec(Spec):
    when: WhenSpec
    use: NodeSpec


class RouterSpec(Spec):
    """First matching rule wins; then the classifier; then the default branch."""

    router: Literal[True] | None = Field(default=None, description="marks the node kind; may be left out")
    rules: list[RuleSpec] = Field(default_factory=list)
    classify: ClassifySpec | None = None
    default: NodeSpec


class RouterNode:
    kind = "router"

    def __init__(self, rules: Sequence[Rule], classifier: IntentClassifier | None, default: Node, label: str = "router") -> None:
        self.rules = tuple(rules)
        self.classifier = classifier
        self.default = default
        self.label = label

    def children(self) -> Sequence[Node]:
        classifier = self.classifier.children() if self.classifier is not None else ()
        return (*(rule.node for rule in self.rules), *classifier, self.default)

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """The branch the rules pick (they are evaluated offline, as at run time); with no rule
        matching, the classifier's call and then any of its branches or the default (expected:
        each label equally likely)."""
        from mmo.strategies.router_rules import RequestFacts

        facts = RequestFacts(request, est.tokens, est.context_window)
        rule = next((rule for rule in self.rules if rule.reasons(facts) is not None), None)
        if rule is not None:
            return est.range(rule.node, request)
        if self.classifier is None:
            return est.range(self.default, request)
        question = self.classifier.request_for(request)
        if self.classifier.skip_when_pii and facts.pii() and self.classifier.holds_pii(question) is not None:
            return est.range(self.default, request)  # the router skips the classifier then
        labelled = [est.range(branch, request) for branch in self.classifier.labels.values()]
        chosen = one_of(labelled)  # expected: each label equally likely
        either = one_of([*labelled, est.range(self.default, request)])  # the default when no label fits
        return est.range(self.classifier.model, question).then(CostRange(either.best, chosen.expected, either.worst))

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        from mmo.strategies.router_rules import RequestFacts  # loaded with the first router that runs

        facts = RequestFacts(request, ctx.tokens, ctx.context_window)
        start = 0
        while True:
            branch, start = self._match_rules(facts, ctx, start)
            if branch is None:
                break
            try:
                return await ctx.call(branch, request)
            except (MmoError, AllAttemptsFailed) as error:
                if not _refused_unsent(error):
                    raise
                # The branch's models cannot take this request (images, tools, its size): a later
                # rule or the default may. Nothing was sent to them.
                ctx.note(f"{branch.label} cannot serve this request ({one_line(error)}); trying the next rule", branch=branch.label)
        if self.classifier is not None:
            branch = await self.classifier.choose(request, ctx)
        if branch is None:
            ctx.note(f"default: using {self.default.label}", branch=self.default.label)
            branch = self.default
        return await ctx.call(branch, request)

    def _match_rules(self, facts: RequestFacts, ctx: RunContext, start: int = 0) -> tuple[Node | None, int]:
        """The branch of the first rule from ``start`` that holds, and where to look after it."""
        for index in range(start, len(self.rules)):
            rule = self.rules[index]
            reasons = rule.reasons(facts)
            if reasons is not None:
                if start == 0:
                    self._note_facts(facts, ctx)
                ctx.note(f"rule {rule.number} matched: {'; '.join(reasons)}", rule=rule.number, branch=rule.node.label)
                return rule.node, index + 1
        if start == 0:
            self._note_facts(facts, ctx)
        if self.rules and start == 0:
            ctx.note(f"no rule matched ({len(self.rules)} rule{'s' if len(self.rules) > 1 else ''})")
        return None, len(self.rules)

    @staticmethod
    def _note_facts(facts: RequestFacts, ctx: RunContext) -> None:
        for message, attrs in facts.computed():
            ctx.note(message, **attrs)


def _refused_unsent(error: BaseException) -> bool:
    """A branch whose every model was refused before anything was sent: it lacks a capability
    the request needs, or its window cannot hold it (a provider's own "too long" counts too)."""
    if isinstance(error, AllAttemptsFailed):
        return bool(error.exceptions) and all(_refused_unsent(e) for e in error.exceptions)
    return isinstance(error, (MissingCapability, ContextTooLong))


def build(builder: Builder, spec: RouterSpec) -> Node:
    from mmo.strategies.router_rules import compile_rule

    rules = [compile_rule(number, rule.when, builder.build(rule.use), builder.target) for number, rule in enumerate(spec.rules, 1)]
    return RouterNode(rules, _classifier(builder, spec), builder.build(spec.default))


def _classifier(builder: Builder, spec: RouterSpec) -> IntentClassifier | None:
    from mmo.strategies.classifier import IntentClassifier, has_local_model

    if spec.classify is None:
        return None
    model = builder.build(spec.classify.model)
    labels = MappingProxyType({label: builder.build(branch) for label, branch in spec.classify.labels.items()})
    local_only = builder.portfolio.privacy.pii == "local_only"
    return IntentClassifier(model, labels, spec.classify.instructions, spec.classify.max_tokens, local_only and not has_local_model(model))


KIND = StrategyKind(
    "router",
    RouterSpec,
    build,
    implied_by=("rules", "default", "classify"),
    specs=(ClassifySpec, RuleSpec, RouterSpec),
)

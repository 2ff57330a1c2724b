"""Router rules compiled from a profile: conditions that hold or not for one request.

Each condition returns the reason it holds (``"keyword 'contract'"``), or ``None``. A rule holds
when all of its conditions do; they are tried cheapest first (tags and metadata, then the token
estimate, then keywords and regular expressions, then the PII detector, then the complexity
score), and the first that fails stops the rule. ``RequestFacts`` computes what the expensive
ones need at most once per request, and only when some rule asks for it.

What each condition reads:

* keywords, regex, complexity: the last user message (what is being asked now), or every user
  message of the conversation with ``look_at: conversation``;
* tokens: the whole prompt (``Request.prompt_text``), through the one token estimator;
* too_long_for: the same estimate plus the model's ``max_tokens``, against the model's context
  window as the catalogue knows it (a profile's ``context_window:`` first);
* pii: everything a provider would receive, exactly as the privacy guard sees it;
* modality, schema, tools: what the request carries (images in any message, a JSON Schema for
  the answer, tool definitions), so a request can be sent to the branch whose models can serve it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from mmo.core.errors import ConfigError
from mmo.core.protocols import Node, TokenCounter
from mmo.core.target import ModelTarget
from mmo.core.types import Request
from mmo.runtime.privacy import outgoing_text

if TYPE_CHECKING:
    from mmo.runtime.pii import PiiFinding
    from mmo.strategies.complexity import ComplexityScore
    from mmo.strategies.router_when import WhenSpec

ContextWindow = Callable[[ModelTarget], "int | None"]


class RequestFacts:
    """What rules look at for one request, each computed on first use and then kept."""

    __slots__ = ("request", "_estimator", "context_window", "whole", "_words", "_prompt_tokens", "_pii", "_complexity", "_conversation")

    def __init__(self, request: Request, estimator: TokenCounter, context_window: ContextWindow, *, whole: bool = False) -> None:
        self.request = request
        self.whole = whole  # keywords, regex and complexity read every user message, not the last
        self._conversation: RequestFacts | None = None
        self._estimator = estimator
        self.context_window = context_window
        self._words: frozenset[str] | None = None
        self._prompt_tokens: int | None = None
        self._pii: tuple[PiiFinding, ...] | None = None
        self._complexity: ComplexityScore | None = None

    @property
    def user_text(self) -> str:
        if self.whole:
            return "\n".join(m.content for m in self.request.messages if m.role == "user")
        return self.request.last_user_text()

    def conversation(self) -> RequestFacts:
        """These facts read over the whole conversation (``look_at: conversation``), made once."""
        if self._conversation is None:
            self._conversation = RequestFacts(self.request, self._estimator, self.context_window, whole=True)
        return self._conversation

    def words(self) -> frozenset[str]:
        """The user text's words, lower-cased: one pass serves every keyword rule."""
        if self._words is None:
            self._words = frozenset(_WORD.findall(self.user_text.lower()))
        return self._words

    def prompt_tokens(self) -> int:
        if self._prompt_tokens is None:
            self._prompt_tokens = self._estimator.estimate(self.request.prompt_text())
        return self._prompt_tokens

    def pii(self) -> tuple[PiiFinding, ...]:
        if self._pii is None:
            from mmo.runtime.pii import detect_pii  # compiled patterns: only for profiles that ask

            self._pii = tuple(detect_pii(outgoing_text(self.request)))
        return self._pii

    def complexity(self) -> ComplexityScore:
        if self._complexity is None:
            from mmo.strategies.complexity import score_complexity

            text = self.user_text
            self._complexity = score_complexity(text, self._estimator.estimate(text))
        return self._complexity

    def computed(self) -> list[tuple[str, dict[str, Any]]]:
        """Notes (message, attributes) for the expensive facts that were computed: kinds and
        counts of personal data (never values), and the complexity score with its components."""
        notes: list[tuple[str, dict[str, Any]]] = []
        if self._pii is not None:
            from mmo.runtime.pii import describe_pii, pii_counts

            notes.append((f"personal data: {describe_pii(self._pii)}", {"pii": pii_counts(self._pii)}))
        if self._complexity is not None:
            score = self._complexity
            notes.append((f"complexity {score.describe()}", {"complexity": score.value, "components": dict(score.components)}))
        return notes


class Condition(Protocol):
    @property
    def cost(self) -> int: ...

    def check(self, facts: RequestFacts) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TagsCondition:
    tags: tuple[str, ...]
    cost: int = 0

    def check(self, facts: RequestFacts) -> str | None:
        found = next((tag for tag in self.tags if tag in facts.request.tags), None)
        return None if found is None else f"tag {found!r}"


@dataclass(frozen=True, slots=True)
class MetadataCondition:
    expected: tuple[tuple[str, str], ...]
    cost: int = 0

    def check(self, facts: RequestFacts) -> str | None:
        metadata = facts.request.metadata
        if any(key not in metadata or str(metadata[key]) != value for key, value in self.expected):
            return None
        return "metadata " + ", ".join(f"{key}={value}" for key, value in self.expected)


@dataclass(frozen=True, slots=True)
class TokensCondition:
    over: int | None
    under: int | None
    cost: int = 1

    def check(self, facts: RequestFacts) -> str | None:
        tokens = facts.prompt_tokens()
        if self.over is not None and not tokens > self.over:
            return None
        if self.under is not None and not tokens < self.under:
            return None
        bounds = [f"> {self.over}" if self.over is not None else "", f"< {self.under}" if self.under is not None else ""]
        return f"prompt tokens {tokens} " + " and ".join(b for b in bounds if b)


@dataclass(frozen=True, slots=True)
class TooLongCondition:
    """Holds when the prompt and the model's ``max_tokens`` would not fit the model's context
    window; a model whose window nobody knows never makes it hold."""

    target: ModelTarget
    cost: int = 1

    def check(self, facts: RequestFacts) -> str | None:
        window = facts.context_window(self.target)
        if window is None:
            return None
        needed = facts.prompt_tokens() + (self.target.params.max_tokens or 0)
        if needed <= window:
            return None
        return f"{needed} tokens (prompt + max_tokens) would not fit the {window:,}-token context window of {self.target.label}"


@dataclass(frozen=True, slots=True)
class KeywordsCondition:
    """Holds when any keyword occurs as a whole word, in any case; the reason names the first
    found in the profile's order. Single words are looked up in the request's word set; phrases
    and words with symbols (``supreme court``, ``C++``) go through one regular expression."""

    words: tuple[tuple[str, str], ...]  # (lower-cased word, the keyword as the profile spells it)
    pattern: re.Pattern[str] | None
    spelled: Mapping[str, str]  # normalised regex match -> the keyword as the profile spells it
    cost: int = 2

    def check(self, facts: RequestFacts) -> str | None:
        present = facts.words()
        found = next((keyword for word, keyword in self.words if word in present), None)
        if found is None and self.pattern is not None:
            match = self.pattern.search(facts.user_text)
            found = None if match is None else self.spelled.get(_normalise(match.group()), match.group())
        return None if found is None else f"keyword {found!r}"


@dataclass(frozen=True, slots=True)
class RegexCondition:
    pattern: re.Pattern[str]
    cost: int = 3

    def check(self, facts: RequestFacts) -> str | None:
        # The match itself is not recorded: it could be the personal data the rule looks for.
        return f"regex /{self.pattern.pattern}/" if self.pattern.search(facts.user_text) else None


@dataclass(frozen=True, slots=True)
class PiiCondition:
    present: bool
    cost: int = 4

    def check(self, facts: RequestFacts) -> str | None:
        findings = facts.pii()
        if bool(findings) != self.present:
            return None
        from mmo.runtime.pii import describe_pii

        return f"personal data found ({describe_pii(findings)})" if findings else "no personal data"


@dataclass(frozen=True, slots=True)
class ComplexityCondition:
    over: float | None
    under: float | None
    cost: int = 5

    def check(self, facts: RequestFacts) -> str | None:
        value = facts.complexity().value
        if self.over is not None and not value > self.over:
            return None
        if self.under is not None and not value < self.under:
            return None
        bounds = [f"> {self.over}" if self.over is not None else "", f"< {self.under}" if self.under is not None else ""]
        return f"complexity {value:.2f} " + " and ".join(b for b in bounds if b)


@dataclass(frozen=True, slots=True)
class ModalityCondition:
    """``image``: some message carries an image; ``text``: none does."""

    modality: str
    cost: int = 0

    def check(self, facts: RequestFacts) -> str | None:
        count = len(facts.request.images())
        if (count > 0) != (self.modality == "image"):
            return None
        return f"{count} image{'s' if count != 1 else ''} attached" if count else "text only"


@dataclass(frozen=True, slots=True)
class SchemaCondition:
    wanted: bool
    cost: int = 0

    def check(self, facts: RequestFacts) -> str | None:
        asked = facts.request.params.output_schema is not None
        if asked != self.wanted:
            return None
        return "a JSON Schema for the answer" if asked else "no JSON Schema"


@dataclass(frozen=True, slots=True)
class ToolsCondition:
    wanted: bool
    cost: int = 0

    def check(self, facts: RequestFacts) -> str | None:
        count = len(facts.request.params.tools)
        if (count > 0) != self.wanted:
            return None
        return f"{count} tool{'s' if count != 1 else ''} offered" if count else "no tools"


@dataclass(frozen=True, slots=True)
class Rule:
    """Rule ``number`` (1-based, as in the profile) and the branch it sends matching requests to."""

    number: int
    conditions: tuple[Condition, ...]
    node: Node
    whole: bool = False  # ``look_at: conversation``

    def reasons(self, facts: RequestFacts) -> list[str] | None:
        """Why every condition holds, or ``None`` as soon as one does not."""
        if self.whole:
            facts = facts.conversation()
        reasons: list[str] = []
        for condition in self.conditions:
            reason = condition.check(facts)
            if reason is None:
                return None
            reasons.append(reason)
        return reasons


def compile_rule(number: int, when: WhenSpec, node: Node, target: Callable[[str], ModelTarget]) -> Rule:
    """``target`` resolves a model name the conditions refer to (``too_long_for``)."""
    conditions = _conditions(number, when, target)
    if not conditions:
        raise ConfigError(f"router rule {number} has no conditions, so it would always match: make its branch the router's `default`")
    return Rule(number, tuple(sorted(conditions, key=lambda c: c.cost)), node, when.look_at == "conversation")


def _conditions(number: int, when: WhenSpec, target: Callable[[str], ModelTarget]) -> list[Condition]:
    conditions: list[Condition] = []
    if when.tags is not None:
        conditions.append(TagsCondition(tuple(when.tags)))
    if when.metadata is not None:
        conditions.append(MetadataCondition(tuple(when.metadata.items())))
    if when.modality is not None:
        conditions.append(ModalityCondition(when.modality))
    if when.schema_ is not None:
        conditions.append(SchemaCondition(when.schema_))
    if when.tools is not None:
        conditions.append(ToolsCondition(when.tools))
    if when.tokens_over is not None or when.tokens_under is not None:
        conditions.append(TokensCondition(when.tokens_over, when.tokens_under))
    if when.too_long_for is not None:
        conditions.append(TooLongCondition(target(when.too_long_for)))
    if when.keywords is not None:
        conditions.append(_keywords(number, when.keywords))
    if when.regex is not None:
        conditions.append(RegexCondition(_compile_regex(number, when.regex)))
    if when.pii is not None:
        conditions.append(PiiCondition(when.pii))
    if when.complexity_over is not None or when.complexity_under is not None:
        conditions.append(ComplexityCondition(when.complexity_over, when.complexity_under))
    return conditions


def _keywords(number: int, keywords: Sequence[str]) -> KeywordsCondition:
    keywords = [word.strip() for word in keywords if word.strip()]
    if not keywords:
        raise ConfigError(f"router rule {number}: `keywords` is empty")
    simple = tuple((word.lower(), word) for word in keywords if _WORD.fullmatch(word.lower()))
    others = [word for word in keywords if not _WORD.fullmatch(word.lower())]
    if not others:
        return KeywordsCondition(simple, None, {})
    # Longest first, so "supreme court" wins over "court"; whitespace inside a phrase is flexible.
    alternatives = "|".join(r"\s+".join(map(re.escape, word.split())) for word in sorted(others, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    return KeywordsCondition(simple, pattern, {_normalise(word): word for word in others})


def _compile_regex(number: int, source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as error:
        raise ConfigError(f"router rule {number}: invalid regex {source!r}: {error}") from None


_WORD = re.compile(r"\w+")


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())

"""The router's LLM intent classifier: a small model labels the request with one of the profile's
labels, and each label names a branch.

The classifier sees a constrained prompt (the instruction below as the system message, the
user's last message as the only turn), at temperature 0 with a small ``max_tokens``, and never
streams. Its reply is read leniently: the first of the labels to appear in it as a whole word,
ignoring case and surrounding text. An answer with no label, or a failed call, makes the router
fall through to its default, with a note saying which; the classifier's cost counts either way.

Privacy: with ``privacy: {pii: local_only}``, a classifier with no local model is not called at
all when what it would be sent (the user's last message) holds personal data, and the note says
so; one with a local model somewhere (a fallback ending on one) is called, and the privacy guard
lets only the local model see the request. Either way the request then takes the default branch
or the labelled one, both of which the guard protects in turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from mmo.core.errors import AllAttemptsFailed, MmoError, one_line
from mmo.core.protocols import Node, RunContext, leaf_targets
from mmo.core.types import Message, Params, Request
from mmo.runtime.privacy import outgoing_text

CLASSIFIER_INSTRUCTION = "Classify the user's request into exactly one of these labels: {labels}. Answer with the label only."
REPLY_PREVIEW_CHARS = 40


@dataclass(frozen=True, slots=True)
class IntentClassifier:
    model: Node
    labels: Mapping[str, Node]  # label as the profile spells it -> branch
    instructions: str | None = None
    max_tokens: int = 16
    skip_when_pii: bool = False  # privacy is local_only and no model of the classifier is local

    def children(self) -> Sequence[Node]:
        return (self.model, *self.labels.values())

    def holds_pii(self, question: Request) -> str | None:
        """What personal data ``question`` holds when privacy keeps it from this classifier."""
        if not self.skip_when_pii:
            return None
        from mmo.runtime.pii import describe_pii, detect_pii

        findings = detect_pii(outgoing_text(question))
        return describe_pii(findings) if findings else None

    def request_for(self, request: Request) -> Request:
        """The constrained request the classifier model answers."""
        system = CLASSIFIER_INSTRUCTION.format(labels=", ".join(self.labels))
        if self.instructions:
            system = f"{system}\n{self.instructions.strip()}"
        messages = (Message("system", system), Message("user", request.last_user_text()))
        return Request(messages, Params(temperature=0.0, max_tokens=self.max_tokens))

    async def choose(self, request: Request, ctx: RunContext) -> Node | None:
        """The branch for the request's label, or ``None`` to fall through to the default."""
        question = self.request_for(request)
        found = self.holds_pii(question)
        if found is not None:
            ctx.note(
                f"classifier skipped: the request holds personal data ({found}) and privacy "
                f"allows it only on local models, but the classifier {self.model.label} is not local"
            )
            return None
        try:
            reply = await ctx.call(self.model, question, stream=False)
        except (MmoError, AllAttemptsFailed) as error:
            ctx.note(f"classifier {self.model.label} failed ({one_line(error)}): falling through to the default", error=type(error).__name__)
            return None
        label = parse_label(reply.text, list(self.labels))
        if label is None:
            ctx.note(f"classifier {self.model.label} answered {_preview(reply.text)}, not one of {', '.join(self.labels)}: falling through to the default")
            return None
        branch = self.labels[label]
        ctx.note(f"classifier {self.model.label} labelled the request {label!r}: using {branch.label}", label=label, branch=branch.label)
        return branch


def parse_label(reply: str, labels: Sequence[str]) -> str | None:
    """The first label that appears in ``reply`` as a whole word (case-insensitive), or ``None``."""
    text = reply.strip().lower()
    best: tuple[int, str] | None = None
    for label in labels:
        match = re.search(rf"(?<!\w){re.escape(label.strip().lower())}(?!\w)", text)
        if match is not None and (best is None or match.start() < best[0]):
            best = (match.start(), label)
    return None if best is None else best[1]


def has_local_model(node: Node) -> bool:
    return any(target.local for target in leaf_targets(node))


def _preview(reply: str) -> str:
    """The reply, shortened, for the trace; withheld if it holds personal data (it goes to the log)."""
    from mmo.runtime.pii import contains_pii

    if contains_pii(reply):
        return "a reply holding personal data (withheld)"
    short = " ".join(reply.split())
    return repr(short if len(short) <= REPLY_PREVIEW_CHARS else short[: REPLY_PREVIEW_CHARS - 1] + "…")

"""``TreeEstimator``: the ``Estimator`` nodes ask when they estimate (``Node.estimate``), so a
dry run walks the same tree that runs, with nothing called.

One model call is priced by the catalogue's one worst-case function: prompt tokens from the one
token estimator (chars/4, corrected per model by what the run log observed) at the input price,
plus output tokens at the output price. The worst case writes ``max_tokens`` (the request's, else
the model's, else the profile's defaults; ``DEFAULT_OUTPUT_TOKENS`` when none is set anywhere:
the worst case ``--max-cost`` reserves too); the best and expected cases write the model's typical
answer length, the mean of its last successful calls in the run log, or
``DEFAULT_EXPECTED_OUTPUT_TOKENS`` when the log has none of its answers yet (never more than
``max_tokens``). ``expected_output`` says, per model, which of the two was used.

A provider that knows its answers in advance (``RecordedAnswers``: the replay provider of the
offline demo) gives its recorded tokens and cost instead, exactly what the run will report. A
model priced nowhere has an unknown cost, never $0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mmo.core.errors import MmoError
from mmo.core.estimate import CallCost, CostRange, Path, first_or_every
from mmo.core.protocols import Node, RecordedAnswers
from mmo.core.target import ModelTarget
from mmo.core.types import ModelRef, Request
from mmo.providers.kinds import provider_kinds
from mmo.runtime.call_estimate import DEFAULT_EXPECTED_OUTPUT_TOKENS, DEFAULT_OUTPUT_TOKENS
from mmo.runtime.input_tokens import provider_kind, request_input_tokens
from mmo.runtime.services import Services
from mmo.runtime.tokens import CHARS_PER_TOKEN, TokenEstimator

if TYPE_CHECKING:
    from mmo.catalog.prices import ModelPrice

RECORDED_SOURCE = "recorded"
UNKNOWN_SOURCE = "unknown"


class TreeEstimator:
    """Prices calls and walks nodes for one session; says how it counted (``notes`` and flags)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.defaulted_output = False  # some call had no max_tokens anywhere
        self.typical_output_used = False  # some call's best/expected length came from history
        self.expected_output: dict[str, str] = {}  # model id -> where its best/expected answer length comes from
        self.recorded_calls = 0
        self.estimated_calls = 0
        self.notes: list[str] = []
        self.too_long: dict[str, int] = {}  # model id -> calls whose prompt + max_tokens pass its context window
        self._recorders: dict[str, RecordedAnswers | None] = {}

    @property
    def tokens(self) -> TokenEstimator:
        return self.services.tokens

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def range(self, node: Node, request: Request) -> CostRange:
        estimate = getattr(node, "estimate", None)
        if estimate is None:  # a node from outside mmo that does not say
            self.note(f"no estimate from strategy kind {node.kind!r}: counted as its first child (best) or every child (worst)")
            return first_or_every([self.range(child, request) for child in node.children()])
        result: CostRange = estimate(request, self)
        return result

    def context_window(self, target: ModelTarget) -> int | None:
        return self.services.catalog.context_window(target.ref).value

    def stand_in(self, tokens: float) -> str:
        return "x" * (math.ceil(tokens) * CHARS_PER_TOKEN)

    def call(self, target: ModelTarget, request: Request) -> CostRange:
        request = request.with_params(target.params.overlaid_by(request.params))
        recorded = self._recorded(target, request)
        if recorded is not None:
            return recorded
        self.estimated_calls += 1
        max_tokens = request.params.max_tokens
        if max_tokens is None:
            self.defaulted_output = True
            max_tokens = DEFAULT_OUTPUT_TOKENS
        input_tokens = request_input_tokens(request, target.ref, self.tokens, provider_kind(target, self.services.catalog))
        self._check_window(target, input_tokens + max_tokens)
        usual = min(self._expected_output(target.id), max_tokens)
        price = self.services.catalog.price(target.ref)
        likely = Path((_priced(target, price, input_tokens, usual),), usual)
        return CostRange(likely, likely, Path((_priced(target, price, input_tokens, max_tokens),), max_tokens))

    def _expected_output(self, model_id: str) -> int:
        """The model's typical answer length from the run log, else the stated default; notes which."""
        typical = self.tokens.typical_output(model_id)
        if typical is None:
            self.expected_output.setdefault(model_id, f"{DEFAULT_EXPECTED_OUTPUT_TOKENS} tokens, the default (no answers in the run log yet)")
            return DEFAULT_EXPECTED_OUTPUT_TOKENS
        self.typical_output_used = True
        calls = self.tokens.typical_output_calls(model_id)
        answers = f"its last {calls} answers" if calls else "its recent answers"
        self.expected_output.setdefault(model_id, f"{typical} tokens, the mean of {answers} in the run log")
        return typical

    def _check_window(self, target: ModelTarget, needed: int) -> None:
        window = self.context_window(target)
        if window is not None and needed > window:
            self.too_long[target.id] = self.too_long.get(target.id, 0) + 1

    def window_notes(self) -> list[str]:
        """One line per model some call would not fit, with its window and where that comes from."""
        lines = []
        for model_id, calls in self.too_long.items():
            window = self.services.catalog.context_window(ModelRef.parse(model_id))
            plural = "call" if calls == 1 else "calls"
            lines.append(
                f"{calls} {plural} to {model_id} would not fit its {window.value:,}-token context window ({window.source}): "
                "prompt + max_tokens; the provider would refuse them (a fallback moves on)"
            )
        return lines

    def _recorded(self, target: ModelTarget, request: Request) -> CostRange | None:
        """A provider's recorded tokens and cost for this request, when it has them."""
        recorder = self._recorder(target.ref.provider)
        found = recorder.recorded_usage(request, target.ref.name) if recorder is not None else None
        if found is None or found[1] is None:
            return None
        usage, cost = found
        self.recorded_calls += 1
        call = CallCost(target.id, usage.input_tokens, usage.output_tokens, cost, RECORDED_SOURCE)
        return CostRange.of(Path((call,), usage.output_tokens))

    def _recorder(self, name: str) -> RecordedAnswers | None:
        if name not in self._recorders:
            self._recorders[name] = self._find_recorder(name)
        return self._recorders[name]

    def _find_recorder(self, name: str) -> RecordedAnswers | None:
        # Only providers that need no network are asked: building an HTTP one would open a client.
        endpoint = self.services.catalog.endpoint(name)
        kind = provider_kinds().get(endpoint.kind) if endpoint is not None else None
        if kind is not None and kind.http:
            return None
        try:
            provider = self.services.providers.get(name)
        except MmoError:
            return None
        return provider if isinstance(provider, RecordedAnswers) else None


def _priced(target: ModelTarget, price: ModelPrice | None, input_tokens: int, output_tokens: int) -> CallCost:
    usd = price.worst_case_usd(input_tokens, output_tokens) if price is not None else None
    source = price.source if price is not None and usd is not None else UNKNOWN_SOURCE
    return CallCost(target.id, input_tokens, output_tokens, usd, source)

"""Context windows around every model call: a prompt goes only to models whose window holds it.

Before a call, the request's input tokens are estimated with the one token estimator (its text,
the tools it offers and its images: ``mmo.runtime.input_tokens``) and the output it asks for added
(``max_tokens``, when set: that is what vendors check too). A model whose context window (the
profile's ``context_window:``, else the catalogue's) is smaller is skipped, with the figures in the
trace: ``ContextTooLong``, a ``failover`` error, so a fallback moves on and a cascade escalates,
and nothing is sent. A model whose window nobody knows is tried.

The estimate is chars/4 (or the ratio the run log learnt for the model), so a prompt can still be
longer than it looks. When a provider answers ``ContextTooLong`` anyway, the run learns that the
prompt needs more than that model's window: for the rest of the run every model whose window is
no larger is skipped too, so the fallback lands on a model with a larger window (peers stop at
this error). The runs it remembers are bounded (``REMEMBERED_RUNS``).

Before the run, ``unservable`` lets ``mmo.runtime.servable`` refuse a prompt no model of the
profile can hold, naming each model and its window, before anything is spent.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from mmo.core.errors import ContextTooLong
from mmo.core.target import ModelTarget
from mmo.core.types import Completion, Request
from mmo.runtime.guard import Guard, GuardContext
from mmo.runtime.input_tokens import provider_kind, request_input_tokens

REMEMBERED_RUNS = 4096  # runs whose ContextTooLong answers are remembered (a batch runs many at once)


def window_of(target: ModelTarget, ctx: GuardContext) -> int | None:
    """The profile's figure for the target, else the catalogue's; ``None`` when nobody knows."""
    return target.context_window or ctx.catalog.context_window(target.ref).value


class WindowGuard(Guard):
    """Skips models whose context window cannot hold the request (see the module docstring)."""

    def __init__(self) -> None:
        self._outgrown: OrderedDict[float, tuple[int, str]] = OrderedDict()  # run -> (window refused, by whom)

    def check(self, target: ModelTarget, request: Request, ctx: GuardContext) -> None:
        why = self.unservable(target, request, ctx)
        if why is None:
            why = self._outgrown_reason(target, ctx)
        if why is not None:
            ctx.note(f"skipped {target.label}: {why}")
            raise ContextTooLong(f"{why}; nothing was sent", provider=target.ref.provider, model=target.ref.name, code="context_window")

    def unservable(self, target: ModelTarget, request: Request, ctx: GuardContext) -> str | None:
        window = window_of(target, ctx)
        if window is None:
            return None
        prompt = request_input_tokens(request, target.ref, ctx.tokens, provider_kind(target, ctx.catalog))
        output = request.params.max_tokens or 0
        if prompt + output <= window:
            return None
        asked = f"prompt ~{prompt:,} + max_tokens {output:,}" if output else f"prompt ~{prompt:,}"
        return f"the request needs about {prompt + output:,} tokens ({asked}), more than its {window:,}-token context window"

    async def acquire(self, target: ModelTarget, request: Request, ctx: GuardContext) -> tuple[float, int | None]:
        return ctx.run_origin, window_of(target, ctx)

    def release(self, token: Any, target: ModelTarget, completion: Completion | None, error: BaseException | None) -> None:
        """A provider said the prompt is too long for ``target``: remember its window for the run."""
        run, window = token
        if not isinstance(error, ContextTooLong) or window is None:
            return
        known = self._outgrown.get(run)
        if known is None or window > known[0]:
            self._outgrown[run] = (window, target.label)
            self._outgrown.move_to_end(run)
            while len(self._outgrown) > REMEMBERED_RUNS:
                self._outgrown.popitem(last=False)

    def _outgrown_reason(self, target: ModelTarget, ctx: GuardContext) -> str | None:
        known = self._outgrown.get(ctx.run_origin)
        window = window_of(target, ctx)
        if known is None or window is None or window > known[0]:
            return None
        return f"{known[1]} ({known[0]:,}-token window) answered that the prompt is too long, and {target.label}'s window is {window:,} tokens"

"""Refuse a request no model of the tree can serve, before anything is spent.

Every guard may know, without calling anything, that a model can never serve a request
(``Guard.unservable``: it cannot take the request's images, cannot call tools, its context window
is too small). ``check_servable`` asks them for every model the strategy tree can call; when each
model has such a reason, the run fails at once with ``Unservable``, naming each model considered
and why, instead of walking a fallback chain whose every step is refused (or, worse, paying for
the steps that come before the refusals).
"""

from __future__ import annotations

from typing import Sequence

from mmo.core.errors import Unservable
from mmo.core.protocols import Node, leaf_targets
from mmo.core.types import Request
from mmo.runtime.guard import Guard, GuardContext


def check_servable(root: Node, request: Request, guards: Sequence[Guard], ctx: GuardContext) -> None:
    """Raise ``Unservable`` when every model ``root`` can call is known to be unable to serve
    ``request``; return at the first model that may."""
    reasons: dict[str, str] = {}
    for target in leaf_targets(root):
        if target.label in reasons:
            continue
        asked = request.with_params(target.params.overlaid_by(request.params))
        why = next((reason for guard in guards if (reason := guard.unservable(target, asked, ctx)) is not None), None)
        if why is None:
            return
        reasons[target.label] = why
    if reasons:
        ctx.note("refused before any call: no model can serve this request")
        raise Unservable("no model in this profile can serve this request; nothing was sent", reasons)

"""Capability routing around every model call: a request with images goes only to models that
can see, a request with tools only to models that call tools.

What a request needs (``needed_capabilities``) is read from the request itself. ``CapabilityGuard``
runs in ``ctx.complete`` for every call any strategy makes, so a fallback, a cascade tier, a router
branch or an ensemble member that is *known* to lack a needed capability is skipped before
anything is sent (``MissingCapability``, a ``failover`` error: the strategy moves on), with the
reason in the trace. A model whose capability nobody knows is tried, with a note saying so: a
new model should work on day one, and the vendor's error is clearer than a guess.

A JSON Schema (``--schema``) is not a hard need: a model without native structured output gets
the schema as instructions and its answer is validated the same way.
"""

from __future__ import annotations

from mmo.catalog.capabilities import Capabilities
from mmo.core.errors import MissingCapability
from mmo.core.target import ModelTarget
from mmo.core.types import Request
from mmo.runtime.guard import Guard, GuardContext

# How errors and traces name what a capability lets a model do.
CAPABILITY_WORDS: dict[str, str] = {
    "vision": "take images (vision)",
    "tools": "call tools",
    "structured_output": "answer to a JSON Schema natively",
    "logprobs": "return log-probabilities",
    "streaming": "stream",
}


def needed_capabilities(request: Request) -> tuple[str, ...]:
    """The capabilities a model must have to serve ``request`` at all."""
    needs: list[str] = []
    if any(message.images for message in request.messages):
        needs.append("vision")
    if request.params.tools and request.params.tool_choice != "none":
        needs.append("tools")
    return tuple(needs)


def missing_capability(capabilities: Capabilities, needs: tuple[str, ...]) -> str | None:
    """The first needed capability the model is known to lack."""
    return next((name for name in needs if capabilities.flag(name).known_false), None)


class CapabilityGuard(Guard):
    """Refuses targets known to lack a capability the request needs (see the module docstring)."""

    def check(self, target: ModelTarget, request: Request, ctx: GuardContext) -> None:
        needs = needed_capabilities(request)
        if not needs:
            return
        capabilities = ctx.catalog.capabilities(target.ref)
        why = self.unservable(target, request, ctx)
        if why is not None:
            missing = missing_capability(capabilities, needs) or needs[0]
            ctx.note(f"skipped {target.label}: {why}", capability=missing)
            raise MissingCapability(f"{why}; nothing was sent", capability=missing, provider=target.ref.provider, model=target.ref.name)
        unknown = [name for name in needs if capabilities.flag(name).value is None]
        if unknown:
            ctx.note(f"{target.label}: whether it can {' or '.join(CAPABILITY_WORDS[n] for n in unknown)} is unknown; trying it")

    def unservable(self, target: ModelTarget, request: Request, ctx: GuardContext) -> str | None:
        needs = needed_capabilities(request)
        if not needs:
            return None
        capabilities = ctx.catalog.capabilities(target.ref)
        missing = missing_capability(capabilities, needs)
        if missing is None:
            return None
        source = capabilities.flag(missing).source
        return f"cannot {CAPABILITY_WORDS[missing]} (says {source}; a profile's capabilities: can correct it)"

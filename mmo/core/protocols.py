"""The one-method seams between mmo's layers.

* ``Provider`` speaks one vendor's wire format; everything above it sees only core types.
* ``Node`` is a strategy: a model leaf, a fallback, later a router or cascade. Nodes call their
  children through ``ctx.call(child, request)``, never ``child.run``, so caching, tracing,
  budgets and limits are written once, in the run context.
* ``StreamSink`` receives what a streaming run shows the user as it happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Protocol, Sequence, runtime_checkable

from mmo.core.types import Completion, Delta, Request, StreamRestart

if TYPE_CHECKING:
    from mmo.runtime.context import RunContext


@runtime_checkable
class Provider(Protocol):
    """One configured endpoint (``openai``, ``ollama``, ``replay`` ...)."""

    name: str

    def identity(self) -> Mapping[str, Any]:
        """What distinguishes this endpoint's answers (kind, base URL): part of the cache key.
        Never the API key."""
        ...

    async def complete(self, request: Request, model: str) -> Completion:
        """One non-streaming call. Raises a ``ProviderError`` subclass on failure."""
        ...

    def stream(self, request: Request, model: str) -> AsyncIterator[Delta]:
        """Text deltas as they arrive, then one final delta carrying the whole ``Completion``.
        Raises ``StreamCut`` (with the partial text) when the stream breaks after it started."""
        ...


@runtime_checkable
class Node(Protocol):
    """A strategy node. ``kind`` is the spec key that built it ("model", "fallback", ...);
    ``label`` is what the trace shows (an alias, or the kind)."""

    kind: str
    label: str

    async def run(self, request: Request, ctx: RunContext) -> Completion: ...

    def children(self) -> Sequence[Node]: ...


StreamEvent = Delta | StreamRestart
StreamSink = Callable[[StreamEvent], None]

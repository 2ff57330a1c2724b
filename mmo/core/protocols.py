"""The seams between mmo's layers, as protocols: every layer above ``core`` meets the others here.

* ``Provider`` speaks one vendor's wire format; everything above it sees only core types.
  ``ProviderLookup`` finds a configured provider by name (the runtime's pool implements it).
* ``Node`` is a strategy: a model leaf, a fallback, a router, a cascade... Nodes call their
  children through ``ctx.call(child, request)``, never ``child.run``, and leaves call models
  through ``ctx.complete(target, request)``, so caching, tracing, budgets and limits are written
  once, in the run context (``RunContext`` is what a node sees of it).
* ``Node.estimate`` answers what the node may spend on a request without calling anything,
  through an ``Estimator`` (the same tree that runs is the one that is estimated).
* ``StreamSink`` receives what a streaming run shows the user as it happens.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Mapping, Protocol, Sequence, runtime_checkable

from mmo.core.estimate import CostRange
from mmo.core.target import ModelTarget, RunOptions
from mmo.core.types import Completion, Delta, Request, StreamRestart, Usage


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
class RecordedAnswers(Protocol):
    """A provider that knows, before any call, what a request will use and cost (the replay
    provider's recordings): estimates take its numbers instead of a guess."""

    def recorded_usage(self, request: Request, model: str) -> tuple[Usage, float | None] | None:
        """The recorded usage and cost of ``model`` answering ``request``, or ``None``."""
        ...


class ProviderLookup(Protocol):
    """Configured providers by name, built on first use."""

    def get(self, name: str) -> Provider: ...

    def names(self) -> list[str]: ...

    async def aclose(self) -> None: ...


class TokenCounter(Protocol):
    """The one token estimator, as nodes and guards see it."""

    def estimate(self, text: str, model_id: str | None = None) -> int: ...


class RunContext(Protocol):
    """A node's view of a run: its options, the token estimator, its trace notes, and the two
    ways to go further down (a child node, or a model)."""

    @property
    def options(self) -> RunOptions: ...

    @property
    def tokens(self) -> TokenCounter: ...

    def note(self, message: str, **attrs: Any) -> None:
        """Record a decision and its reason in this node's span."""
        ...

    def warn(self, message: str) -> None:
        """Tell the user something about the run that is not an error (said once)."""
        ...

    def context_window(self, target: ModelTarget) -> int | None:
        """The model's context window as the catalogue knows it (a profile's figure first)."""
        ...

    async def call(self, child: Node, request: Request, *, stream: bool = True, alternative: bool = False) -> Completion:
        """Run ``child`` under its own span. ``stream=False`` keeps its output off the screen.
        ``alternative=True`` says the caller can move on to another target if this child cannot
        be served now: a guard may then refuse at once (a model whose circuit is open) where it
        would otherwise wait."""
        ...

    async def complete(self, target: ModelTarget, request: Request) -> Completion:
        """Call one model: guards, cache, provider, pricing, and the attempt's record."""
        ...


class Estimator(Protocol):
    """What a node's ``estimate`` may ask: a child's range, one model call's, and text standing
    for an answer that only exists at run time."""

    @property
    def tokens(self) -> TokenCounter: ...

    def range(self, node: Node, request: Request) -> CostRange: ...

    def context_window(self, target: ModelTarget) -> int | None: ...

    def call(self, target: ModelTarget, request: Request) -> CostRange: ...

    def stand_in(self, tokens: float) -> str:
        """Text the token estimator counts as ``tokens`` tokens (an answer not yet written)."""
        ...


@runtime_checkable
class Node(Protocol):
    """A strategy node. ``kind`` is the spec key that built it ("model", "fallback", ...);
    ``label`` is what the trace shows (an alias, or the kind). A node that runs its children at
    the same time (an ensemble's members, a hedge's branches) also sets a class attribute
    ``runs_children_together = True``, so that connection pools are sized for it
    (``concurrent_calls``)."""

    kind: str
    label: str

    async def run(self, request: Request, ctx: RunContext) -> Completion: ...

    def children(self) -> Sequence[Node]: ...

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """What answering ``request`` may cost, from the cheapest way to the dearest."""
        ...


StreamEvent = Delta | StreamRestart
StreamSink = Callable[[StreamEvent], None]


def leaf_targets(node: Node) -> list[ModelTarget]:
    """Every model a tree can call, in tree order (a leaf exposes its ``target``)."""
    target = getattr(node, "target", None)
    found = [target] if isinstance(target, ModelTarget) else []
    for child in node.children():
        found.extend(leaf_targets(child))
    return found


def concurrent_calls(node: Node) -> int:
    """The most model calls one request through ``node`` may have in flight at once: children
    run one after another, unless the node runs them together (``runs_children_together``)."""
    children = node.children()
    if not children:
        return 1
    counts = [concurrent_calls(child) for child in children]
    return sum(counts) if getattr(node, "runs_children_together", False) else max(counts)

"""``Guard``: a rule around every model call (privacy, outage drills, limits, spend caps), so no
strategy can forget one. The run context calls every guard of the session, in order, for every
model call (``mmo.runtime.context``)."""

from __future__ import annotations

from typing import Any, Protocol

from mmo.catalog.catalog import Catalog
from mmo.core.target import ModelTarget, RunOptions
from mmo.core.types import Completion, Request
from mmo.runtime.tokens import TokenEstimator


class GuardContext(Protocol):
    """What a guard sees of the call's context: the catalogue, the token estimator, the run's
    options, the run it belongs to, and its trace notes."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def tokens(self) -> TokenEstimator: ...

    @property
    def options(self) -> RunOptions: ...

    @property
    def run_origin(self) -> float:
        """The run's start time: the same for every call of one run, so a run's identity."""
        ...

    @property
    def may_move_on(self) -> bool:
        """A strategy above has another target if this call cannot be served now (``RunContext.call``
        with ``alternative``): refuse at once rather than wait."""
        ...

    def note(self, message: str, **attrs: Any) -> None: ...


class Guard:
    """Subclasses override what they need; the defaults do nothing.

    * ``check``: before the cache is consulted; raise to refuse the target (a ``failover`` error
      lets a fallback move on).
    * ``acquire``: before a real provider call (not a cache hit); may wait (rate limits) or
      raise (budget). Its return value is passed to ``release``.
    * ``release``: after that call, with the completion or the error, always.
    * ``unservable``: why ``target`` can never serve ``request`` (a capability it lacks, a context
      window too small), or ``None``. Asked for every model of the tree before a run starts
      (``mmo.runtime.servable``): when every model has a reason, the run is refused before any
      spend. A guard that answers it should refuse the same targets in ``check``.
    * ``aclose``: when the session ends (a guard with a connection to shared state closes it).
    """

    def check(self, target: ModelTarget, request: Request, ctx: GuardContext) -> None:
        return None

    def unservable(self, target: ModelTarget, request: Request, ctx: GuardContext) -> str | None:
        return None

    async def acquire(self, target: ModelTarget, request: Request, ctx: GuardContext) -> Any:
        return None

    def release(self, token: Any, target: ModelTarget, completion: Completion | None, error: BaseException | None) -> None:
        return None

    async def aclose(self) -> None:
        return None

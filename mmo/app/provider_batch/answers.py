"""A job's answers in place of the live calls they stand for, when a run is collected.

Collecting runs the rows through the same strategy tree as a live run (cache, trace, run log,
state and output: one code path). ``JobAnswers`` wraps a provider: a call whose request matches a
job's request (by the response cache's key: provider, model and the request as sent) gets that
request's result, an answer priced at the batch price or the error the job met; any other call
(a cascade's later tier, a fallback's next entry, a gate's judge) goes to the provider live.

An expired or cancelled request raises its transient error marked not retryable (the job's
answer would only come back the same) but failing over: a fallback moves on to its next entry
live, and a row with nowhere to go is an infrastructure error that ``--retry-errors`` sends again.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, AsyncIterator, Callable, Mapping

from mmo.core.errors import ProviderError
from mmo.core.protocols import Provider
from mmo.core.types import Completion, Delta, ModelRef, Request, Usage
from mmo.core.usage import Cost
from mmo.runtime.cache import cache_key

Price = Callable[[ModelRef, Usage], Cost]


class JobAnswers:
    """``provider`` with the answers of its jobs: ``answers`` maps a request key to its result."""

    def __init__(self, provider: Provider, answers: Mapping[str, Completion | ProviderError], price: Price, discount: float) -> None:
        self.name = provider.name
        self._provider = provider
        self._answers = answers
        self._price = price
        self._discount = discount
        self.answered = 0  # calls the jobs answered (the rest went live)

    def identity(self) -> Mapping[str, Any]:
        return self._provider.identity()

    def _answer(self, request: Request, model: str) -> Completion | None:
        found = self._answers.get(cache_key(self.identity(), model, request))
        if found is None:
            return None
        self.answered += 1
        if isinstance(found, ProviderError):
            error = copy.copy(found)
            error.retryable = False  # the job's answer would only come back the same
            raise error
        cost = self._price(ModelRef(self.name, model), found.usage)
        batch_cost = Cost(None if cost.usd is None else cost.usd * self._discount, f"{cost.source}; batch price {self._discount:.0%}")
        return replace(found, cost=batch_cost)

    async def complete(self, request: Request, model: str) -> Completion:
        answered = self._answer(request, model)
        if answered is not None:
            return answered
        return await self._provider.complete(request, model)

    async def stream(self, request: Request, model: str) -> AsyncIterator[Delta]:
        answered = self._answer(request, model)
        if answered is None:
            async for delta in self._provider.stream(request, model):
                yield delta
            return
        if answered.text:
            yield Delta(text=answered.text)
        yield Delta(final=answered)

    def __getattr__(self, name: str) -> Any:  # anything else a provider offers (aclose, batch_endpoint...)
        return getattr(self._provider, name)

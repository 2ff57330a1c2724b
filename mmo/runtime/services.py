"""``Services``: what every call of a run uses and does not own the lifetime of (providers, the
model catalogue, the token estimator, the cache, the guards), and the run's ``Warnings``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from mmo.catalog.catalog import Catalog
from mmo.core.protocols import ProviderLookup
from mmo.runtime.tokens import TokenEstimator

if TYPE_CHECKING:
    from mmo.runtime.cache import ResponseCache
    from mmo.runtime.guard import Guard


class Warnings:
    """Things the user should know about a run that are not errors (a dropped parameter, an
    unknown price). Each distinct message is kept once, in order."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)


@dataclass(slots=True)
class Services:
    providers: ProviderLookup
    catalog: Catalog
    tokens: TokenEstimator
    warnings: Warnings
    cache: ResponseCache | None = None
    guards: tuple[Guard, ...] = ()
    on_step: Callable[[str], None] | None = None  # told each model call as it starts (a terminal's spinner)

    def warn(self, message: str) -> None:
        self.warnings.add(message)

    def step(self, message: str) -> None:
        if self.on_step is not None:
            self.on_step(message)

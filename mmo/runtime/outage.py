"""Failover drills: ``mmo ask --simulate-outage openai`` makes every call to a provider (or to one
model: ``openai:gpt-5-mini``, or a profile alias) fail as if it were down, so a user can see what
the profile does during an outage. The flag repeats: ``--simulate-outage openai --simulate-outage
anthropic`` takes two vendors down.

The failure is an ``Overloaded`` error, what a provider in trouble answers: transient and a
failover error, so fallbacks retry and then move on exactly as they would in a real outage. Its
message says it was simulated ("simulated outage (--simulate-outage openai)") and ``--explain``
shows it on the attempt. It is raised in ``check``, before the cache, so a cached answer cannot
hide the outage; nothing is sent and nothing is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from mmo.core.errors import ConfigError, Overloaded, UnknownName
from mmo.core.target import ModelTarget
from mmo.core.types import ModelRef, Request
from mmo.runtime.guard import Guard, GuardContext

FLAG = "--simulate-outage"


@dataclass(frozen=True, slots=True)
class OutageTarget:
    """What one flag takes down: a whole provider (``model=None``) or one model."""

    flag: str
    provider: str
    model: str | None = None

    def matches(self, target: ModelTarget) -> bool:
        if target.ref.provider != self.provider:
            return False
        return self.model is None or target.ref.name == self.model

    @property
    def what(self) -> str:
        return self.provider if self.model is None else f"{self.provider}:{self.model}"


def parse_outage(value: str, *, aliases: Mapping[str, str], providers: Iterable[str]) -> OutageTarget:
    """``PROVIDER``, ``PROVIDER:MODEL`` or a profile alias; an unknown provider is an error."""
    text = value.strip()
    known = sorted(set(providers))
    if text in aliases:
        ref = ModelRef.parse(aliases[text])
        return OutageTarget(text, ref.provider, ref.name)
    if ":" in text:
        try:
            ref = ModelRef.parse(text)
        except ValueError:
            raise ConfigError(f"{FLAG} {value!r}: expected PROVIDER, PROVIDER:MODEL or a model alias") from None
        if ref.provider not in known:
            raise UnknownName(f"provider in {FLAG}", ref.provider, known)
        return OutageTarget(text, ref.provider, ref.name)
    if text not in known:
        raise UnknownName(f"provider or model alias in {FLAG}", text, [*known, *aliases])
    return OutageTarget(text, text, None)


class OutageGuard(Guard):
    """Fails every call to the given providers or models."""

    def __init__(self, targets: Iterable[OutageTarget]) -> None:
        self.targets = tuple(targets)

    @classmethod
    def from_flags(cls, values: Iterable[str], *, aliases: Mapping[str, str], providers: Iterable[str]) -> OutageGuard:
        known = tuple(providers)
        return cls(parse_outage(v, aliases=aliases, providers=known) for v in values)

    def check(self, target: ModelTarget, request: Request, ctx: GuardContext) -> None:
        for outage in self.targets:
            if outage.matches(target):
                # The attempt's error (shown by --explain and the result table) says it all.
                message = f"simulated outage ({FLAG} {outage.flag})"
                raise Overloaded(message, provider=target.ref.provider, model=target.ref.name)

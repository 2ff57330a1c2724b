"""The guards of a run, from its profile and the user's flags, in the order they must run.

1. privacy (``check``): data governance refuses before anything else is considered;
2. capabilities and context windows (``check``): a model known to lack what the request needs
   (images, tools), whose vendor would refuse the request's images, or whose window cannot hold
   it is skipped, and a request no model can serve is
   refused before the run starts (``Guard.unservable``, ``mmo.runtime.servable``);
3. outage drills (``check``): before the cache, so a cached answer cannot hide a simulated outage;
4. limits (``acquire``): may wait for a slot or the rate buckets, or fail fast;
5. spend caps (``acquire``): budgets and ``--max-cost`` price the call once it is about to be
   sent (after any wait, so spending by calls that finished meanwhile is counted; see
   ``mmo.runtime.spend``).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.runtime.guard import Guard
from mmo.runtime.spend import Budgets, RunCap, SpendGuard

if TYPE_CHECKING:
    from mmo.runtime.runlog import RunLog


def run_guards(
    profile: Profile,
    *,
    providers: Iterable[str],
    runlog: RunLog | None,
    simulate_outage: Sequence[str] = (),
    run_cap: RunCap | None = None,
    state_url: str | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> tuple[Guard, ...]:
    """The guards of a session; ``state_url`` (``MMO_STATE_URL``) puts the rate limits, the
    circuit openings and the daily budget on that Redis server, shared by every process."""
    from mmo.runtime.limits import LimitsGuard, limits_by_model

    guards: list[Guard] = []
    if profile.privacy.pii == "local_only" or profile.privacy.images_local_only:
        from mmo.runtime.privacy import PrivacyGuard

        guards.append(PrivacyGuard(text=profile.privacy.pii == "local_only", images=profile.privacy.images_local_only))
    from mmo.runtime.capabilities_guard import CapabilityGuard
    from mmo.runtime.image_guard import ImageGuard
    from mmo.runtime.window_guard import WindowGuard

    guards.extend((CapabilityGuard(), ImageGuard(), WindowGuard()))
    if simulate_outage:
        from mmo.runtime.outage import OutageGuard

        guards.append(OutageGuard.from_flags(simulate_outage, aliases=_aliases(profile), providers=providers))
    limits = limits_by_model(profile.limits, profile.models)
    shared_limits = shared_day = circuits = None
    if state_url is not None:
        from mmo.runtime.shared_budget import SharedDailyBudget
        from mmo.runtime.shared_circuits import SharedCircuits
        from mmo.runtime.shared_limits import SharedLimits

        shared_limits, shared_day, circuits = SharedLimits(state_url), SharedDailyBudget(state_url, profile.name), SharedCircuits(state_url, warn)
    guards.append(LimitsGuard(limits, max_wait_s=profile.retry.max_retry_after_s, shared=shared_limits, circuits=circuits))
    spend = SpendGuard(_budgets(profile, runlog), run_cap, shared=shared_day)
    if spend.active:
        guards.append(spend)  # last: after any guard that waits
    return tuple(guards)


def _budgets(profile: Profile, runlog: RunLog | None) -> Budgets:
    spec = profile.budget
    return Budgets(
        per_request_usd=spec.per_request_usd,
        daily_usd=spec.daily_usd,
        spent_today_usd=_spent_today(profile, runlog),
        allow_unknown_prices=spec.allow_unknown_prices,
        profile_name=profile.name,
    )


def _aliases(profile: Profile) -> dict[str, str]:
    out: dict[str, str] = {}
    for alias in profile.models:
        entry = profile.model_entry(alias)
        if entry is not None:
            out[alias] = entry.model
    return out


def _spent_today(profile: Profile, runlog: RunLog | None) -> float:
    """The profile's spend since midnight UTC, from the run log (read only under a daily cap).
    A log that cannot be read leaves it unknown: the run is refused, naming the file."""
    if profile.budget.daily_usd is None or runlog is None:
        return 0.0
    midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
    try:
        return runlog.spent_usd(profile=profile.name, since=midnight)
    except sqlite3.Error as error:
        from mmo.runtime.sqlite_files import file_problem

        raise ConfigError(
            f"profile {profile.name!r} has a daily budget, and today's spend so far cannot be read from the run log "
            f"{file_problem(runlog.path, error)}; or remove budget.daily_usd from the profile"
        ) from None

"""The guards of a session, from its profile and the user's flags, in the order they must run.

1. privacy (``check``): data governance refuses before anything else is considered;
2. outage drills (``check``): before the cache, so a cached answer cannot hide a simulated outage;
3. limits (``acquire``): may wait for a slot or the rate buckets, or fail fast;
4. budget (``acquire``): prices the call once it is about to be sent (after any wait, so spending
   by calls that finished meanwhile is counted; see ``mmo.runtime.budget``).
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from typing import TYPE_CHECKING, Iterable, Sequence

from mmo.config.models import Profile
from mmo.runtime.context import Guard

if TYPE_CHECKING:
    from mmo.runtime.paths import MmoPaths


def session_guards(
    profile: Profile,
    paths: MmoPaths,
    *,
    providers: Iterable[str],
    simulate_outage: Sequence[str] = (),
) -> tuple[Guard, ...]:
    from mmo.runtime.budget import BudgetGuard
    from mmo.runtime.limits import LimitsGuard
    from mmo.runtime.privacy import PrivacyGuard

    guards: list[Guard] = []
    privacy = PrivacyGuard.from_profile(profile)
    if privacy is not None:
        guards.append(privacy)
    if simulate_outage:
        from mmo.runtime.outage import OutageGuard

        guards.append(OutageGuard.from_flags(simulate_outage, aliases=_aliases(profile), providers=providers))
    guards.append(LimitsGuard.from_profile(profile))
    budget = BudgetGuard.from_profile(profile, spent_today_usd=_spent_today(profile, paths))
    if budget.active:
        guards.append(budget)
    return tuple(guards)



def _aliases(profile: Profile) -> dict[str, str]:
    out: dict[str, str] = {}
    for alias in profile.models:
        entry = profile.model_entry(alias)
        if entry is not None:
            out[alias] = entry.model
    return out


def _spent_today(profile: Profile, paths: MmoPaths) -> float:
    """The profile's spend since midnight UTC, from the run log (read only under a daily cap)."""
    if profile.budget.daily_usd is None or not paths.runlog_path.exists():
        return 0.0
    from mmo.runtime.runlog import RunLog

    midnight = datetime.combine(datetime.now(timezone.utc).date(), time(0), tzinfo=timezone.utc)
    with RunLog(paths.runlog_path) as log:
        return log.spent_usd(profile=profile.name, since=midnight)

"""``mmo logs stats`` (``mmo spend``): spend, calls, errors, tokens and latency from the run log,
grouped by day (UTC), model, provider or profile, over a time window; and a profile's daily budget:
what today used and what is left. Unknown prices are never counted as $0: each group says how many
billed calls have none. No typer, no rich.

Times: ``--since`` / ``--until`` take an ISO date or time (``2026-12-01``, ``2026-12-01T08:00``,
with an offset or taken as UTC), a span back from now (``30m``, ``24h``, ``7d``, ``2w``), or
``today`` / ``yesterday`` (UTC days, as the daily budget counts them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from mmo.app.time_window import parse_moment
from mmo.core.errors import ConfigError
from mmo.runtime.runlog import UsageGroup

if TYPE_CHECKING:
    from mmo.app.settings import AppEnv
    from mmo.runtime.runlog import RunLog

__all__ = ["GROUPINGS", "Budget", "UsageGroup", "UsageReport", "parse_moment", "usage_report"]

GROUPINGS = ("day", "model", "provider", "profile")


@dataclass(frozen=True, slots=True)
class Budget:
    profile: str
    daily_usd: float
    spent_today_usd: float

    @property
    def left_usd(self) -> float:
        return max(self.daily_usd - self.spent_today_usd, 0.0)


@dataclass(frozen=True, slots=True)
class UsageReport:
    by: str
    since: datetime | None
    until: datetime | None
    groups: list[UsageGroup]
    budget: Budget | None


def usage_report(env: AppEnv, *, by: str, since: str | None, until: str | None, profile: str | None) -> UsageReport:
    """The report; ``profile`` (or the default profile, when one exists) gives the daily budget."""
    from mmo.app.logs import reading_log
    from mmo.runtime.runlog import utc_iso

    if by not in GROUPINGS:
        raise ConfigError(f"--by {by!r}: group by one of {', '.join(GROUPINGS)}")
    start = parse_moment(since, "--since") if since is not None else None
    end = parse_moment(until, "--until") if until is not None else None
    if start is not None and end is not None and start >= end:
        raise ConfigError(f"--since ({utc_iso(start)}) must come before --until ({utc_iso(end)})")
    path = env.paths.runlog_path
    if not path.exists():
        return UsageReport(by, start, end, [], None)
    with reading_log(path) as log:
        groups = log.usage_by(by, since=utc_iso(start) if start else None, until=utc_iso(end) if end else None)
        budget = _budget(env, profile, log)
    return UsageReport(by, start, end, groups, budget)


def _budget(env: AppEnv, name: str | None, log: RunLog) -> Budget | None:
    """Today's use of the profile's daily budget (the spend guard's own count), when a profile is
    named (``--profile`` or ``MMO_PROFILE``) and has one."""
    from mmo.app.profile_choice import resolve_profile
    from mmo.app.settings import ProfileChoice

    name = name or env.environ.get("MMO_PROFILE")
    if name is None:
        return None
    profile = resolve_profile(ProfileChoice(name), env).profile
    if profile.budget.daily_usd is None:
        return None
    midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
    return Budget(profile.name, profile.budget.daily_usd, log.spent_usd(profile=profile.name, since=midnight))

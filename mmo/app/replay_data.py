"""Which recorded data a run's replay providers answer from.

A profile's ``kind: replay`` provider names its own file (``path:``). ``--replay-data NAME|PATH``
(``mmo ask``, ``mmo batch``), else the ``MMO_REPLAY_DATA`` environment variable, points every
replay provider of the run's profile at other data instead: a built-in data set by name
(``mmlu_pro`` for the full 11,954 MMLU-Pro questions, ``mmlu_pro_sample`` for the 300 of the
sample; ``builtin:NAME`` works too) or a replay file. The choice is laid over the profile itself,
so everything that reads the profile sees it (a batch run's identity included: the same input
over other data is another run).

An unknown name is a ``ConfigError`` listing the built-ins. ``--replay-data`` with a profile that
has no replay provider is a ``ConfigError`` too (it would change nothing); ``MMO_REPLAY_DATA``, a
setting for every command, is then left unused.
"""

from __future__ import annotations

from mmo.app.settings import AppEnv
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.providers.replay import REPLAY_DATA_ENV, replay_data_path

REPLAY_DATA_FLAG = "--replay-data"


def with_replay_data(profile: Profile, flag: str | None, env: AppEnv) -> Profile:
    """``profile`` with every replay provider answering from the data the flag, else the
    environment, names; unchanged when neither names any."""
    value, origin = (flag, REPLAY_DATA_FLAG) if flag else (env.environ.get(REPLAY_DATA_ENV) or None, REPLAY_DATA_ENV)
    if value is None:
        return profile
    replays = [name for name, entry in profile.providers.items() if entry.kind == "replay"]
    if not replays:
        if origin == REPLAY_DATA_FLAG:
            raise ConfigError(f"{REPLAY_DATA_FLAG} {value!r}: profile {profile.name!r} has no replay provider (kind: replay) to answer from it")
        return profile
    try:
        path = replay_data_path(value, env.cwd)
    except ConfigError as error:
        raise ConfigError(str(error), source=origin) from None
    providers = {name: entry.model_copy(update={"path": path}) if name in replays else entry for name, entry in profile.providers.items()}
    return profile.model_copy(update={"providers": providers})

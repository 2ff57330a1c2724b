"""From what the user asked for (``--profile``, ``--model``, ``MMO_PROFILE``; ``--replay-data``,
``MMO_REPLAY_DATA``; the defaults of ``mmo config``, ``mmo.app.user_config``) to one validated
profile. The profile: ``--profile``, ``MMO_PROFILE``, the config's ``profile``; with none of them
and no ``--model``, the default model (``MMO_MODEL``, the config's ``model``), else ``default``. A project profile that hides another of the same name is announced (``AppEnv.notice``)
before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mmo.app.settings import AppEnv, ProfileChoice
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.core.types import ModelRef


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    profile: Profile
    source: str  # "path/to/file.yaml", "builtin demo", or "--model" for a synthetic profile
    name: str


def resolve_profile(choice: ProfileChoice, env: AppEnv) -> ResolvedProfile:
    """The profile to run: the named one, ``MMO_PROFILE``, or a one-model profile for ``--model``."""
    from mmo.app.user_config import default_text
    from mmo.config.loader import load_profile
    from mmo.config.search import shadow_notice

    name = choice.profile or default_text(env, "profile")
    if name is None and choice.model is None:
        default_model = default_text(env, "model")
        if default_model is not None:
            choice = replace(choice, model=default_model)
    if name is None and choice.model is None:
        name = "default"
        try:
            loaded = load_profile(name, cwd=env.cwd, paths=env.paths)
        except ConfigError:
            raise ConfigError(
                "no profile chosen: pass --profile NAME (see `mmo profiles list`; `--profile demo` runs offline), "
                "--model provider:model, set MMO_PROFILE, or `mmo config set profile NAME`"
            ) from None
    elif name is None:
        return _with_replay_data(_single_model_profile(choice.model or ""), choice, env)
    else:
        loaded = load_profile(name, cwd=env.cwd, paths=env.paths)
    if (shadow := shadow_notice(loaded.source)) is not None:
        env.notice(shadow)
    profile = loaded.profile
    if choice.model is not None:
        profile = profile.model_copy(update={"strategy": choice.model})
    return _with_replay_data(ResolvedProfile(profile, str(loaded.source.path or loaded.source.name), profile.name), choice, env)


def _with_replay_data(resolved: ResolvedProfile, choice: ProfileChoice, env: AppEnv) -> ResolvedProfile:
    from mmo.app.replay_data import with_replay_data

    profile = with_replay_data(resolved.profile, choice.replay_data, env)
    return resolved if profile is resolved.profile else ResolvedProfile(profile, resolved.source, resolved.name)


def _single_model_profile(model: str) -> ResolvedProfile:
    try:
        ModelRef.parse(model)
    except ValueError:
        raise ConfigError(f"--model {model!r} needs the form provider:model (e.g. openai:gpt-5-mini) when no profile is given") from None
    profile = Profile(name=f"model {model}", strategy=model)
    return ResolvedProfile(profile, "--model", profile.name)

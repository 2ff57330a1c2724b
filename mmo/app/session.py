"""From a profile (or a bare ``--model``) to everything a run needs: the node tree and services.

Use cases (ask now; batch and bench later) open one ``Session`` and run requests through it;
closing it closes the HTTP client and the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from mmo.config.models import Profile, ProviderEntry
from mmo.core.errors import ConfigError
from mmo.core.protocols import Node, Provider
from mmo.core.types import ModelRef, frozen_mapping
from mmo.providers.catalogue import BUILTIN_PROVIDERS, ProviderSettings, env_name
from mmo.runtime.context import ModelTarget, Services, Warnings
from mmo.runtime.paths import MmoPaths

if TYPE_CHECKING:
    import httpx

    from mmo.runtime.prices import PriceBook
    from mmo.runtime.runlog import RunLog
    from mmo.runtime.tokens import TokenEstimator


@dataclass(frozen=True, slots=True)
class AppEnv:
    """The outside world a use case may read: environment variables, working directory, paths."""

    environ: Mapping[str, str]
    cwd: Path
    paths: MmoPaths

    @classmethod
    def from_process(cls) -> AppEnv:
        import os

        return cls(dict(os.environ), Path.cwd(), MmoPaths.from_env())


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """Which profile and model the user asked for. ``model`` skips the profile's strategy."""

    profile: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    profile: Profile
    source: str  # "path/to/file.yaml", "builtin demo", or "--model" for a synthetic profile
    name: str


def resolve_profile(choice: ProfileChoice, env: AppEnv) -> ResolvedProfile:
    """The profile to run: the named one, ``MMO_PROFILE``, or a one-model profile for ``--model``."""
    from mmo.config.loader import load_profile

    name = choice.profile or env.environ.get("MMO_PROFILE")
    if name is None and choice.model is None:
        name = "default"
        try:
            loaded = load_profile(name, cwd=env.cwd, paths=env.paths)
        except ConfigError:
            raise ConfigError(
                "no profile chosen: pass --profile NAME (see `mmo profiles list`; `--profile demo` runs offline), "
                "--model provider:model, or set MMO_PROFILE"
            ) from None
    elif name is None:
        return _single_model_profile(choice.model or "")
    else:
        loaded = load_profile(name, cwd=env.cwd, paths=env.paths)
    profile = loaded.profile
    if choice.model is not None:
        profile = profile.model_copy(update={"strategy": choice.model})
    return ResolvedProfile(profile, str(loaded.source.path or loaded.source.name), profile.name)


def _single_model_profile(model: str) -> ResolvedProfile:
    try:
        ModelRef.parse(model)
    except ValueError:
        raise ConfigError(f"--model {model!r} needs the form provider:model (e.g. openai:gpt-5-mini) when no profile is given") from None
    profile = Profile(name=f"model {model}", strategy=model)
    return ResolvedProfile(profile, "--model", profile.name)


def provider_settings(profile: Profile) -> dict[str, ProviderSettings]:
    """Built-in providers, with the profile's declarations laid over them."""
    settings = dict(BUILTIN_PROVIDERS)
    for name, entry in profile.providers.items():
        settings[name] = _settings_from_entry(name, entry, BUILTIN_PROVIDERS.get(name))
    return settings


def _settings_from_entry(name: str, entry: ProviderEntry, builtin: ProviderSettings | None) -> ProviderSettings:
    if entry.kind != "replay" and not entry.base_url and builtin is None:
        raise ConfigError(f"provider {name!r} needs a base_url (for example http://localhost:8000/v1)")
    options = {"path": entry.path, "sleep": entry.sleep, "speed": entry.speed} if entry.kind == "replay" else {}
    if entry.kind == "replay" and not entry.path:
        raise ConfigError(f"replay provider {name!r} needs a path (a JSONL file or builtin:mmlu_pro_sample)")
    return ProviderSettings(
        name=name,
        kind=entry.kind,
        base_url=(entry.base_url or (builtin.base_url if builtin else None) or "").rstrip("/") or None,
        key_env=entry.key_env or (builtin.key_env if builtin else f"{env_name(name)}_API_KEY"),
        needs_key=entry.key != "none" and entry.kind != "replay",
        base_url_env=builtin.base_url_env if builtin else (),
        headers=frozen_mapping(entry.headers),
        options=frozen_mapping(options),
    )


def price_book(profile: Profile) -> PriceBook:
    from mmo.runtime.prices import PriceBook, PriceOverride

    overrides: dict[str, PriceOverride] = {}
    local: set[str] = set()
    for alias in profile.models:
        entry = profile.model_entry(alias)
        if entry is None:
            continue
        if entry.local:
            local.add(entry.model)
        if entry.price is not None:
            overrides[entry.model] = PriceOverride(entry.price.input, entry.price.output, entry.price.cached_input)
    return PriceBook(overrides, frozenset(local))


@dataclass
class Session:
    """A profile made ready to run: its tree and the services behind it."""

    resolved: ResolvedProfile
    root: Node
    services: Services
    env: AppEnv
    extra_providers: Mapping[str, Provider] = field(default_factory=dict)

    async def aclose(self) -> None:
        await self.services.providers.aclose()
        if self.services.cache is not None:
            self.services.cache.close()


def open_session(
    resolved: ResolvedProfile,
    env: AppEnv,
    *,
    use_cache: bool = True,
    extra_providers: Mapping[str, Provider] | None = None,
    simulate_outage: Sequence[str] = (),
    client_factory: Callable[[], httpx.AsyncClient] | None = None,
    runlog: RunLog | None = None,
) -> Session:
    """Everything one profile needs to run requests. ``client_factory`` builds the one shared
    HTTP client on first use (batch passes one sized for its concurrency)."""
    from mmo.app.guards import session_guards
    from mmo.providers.registry import ProviderPool
    from mmo.runtime.keys import KeyStore
    from mmo.strategies.build import build_tree

    root = build_tree(resolved.profile)
    settings = provider_settings(resolved.profile)
    _check_providers(root, settings, extra_providers or {})
    warnings = Warnings()
    pool = ProviderPool(
        settings,
        KeyStore(env.environ),
        env.environ,
        extra=extra_providers,
        on_warning=warnings.add,
        client_factory=client_factory,
    )
    tokens = learnt_token_estimator(env, [t.id for t in leaf_targets(root)], runlog)
    services = Services(providers=pool, prices=price_book(resolved.profile), tokens=tokens, warnings=warnings)
    known_providers = [*settings, *(extra_providers or {})]
    services.guards = session_guards(resolved.profile, env.paths, providers=known_providers, simulate_outage=simulate_outage)
    warn_unknown_models(root, settings, services.prices, warnings.add)
    if use_cache:
        from mmo.runtime.cache import ResponseCache

        services.cache = ResponseCache(env.paths.response_cache_dir)
    return Session(resolved, root, services, env, dict(extra_providers or {}))


def leaf_targets(node: Node) -> list[ModelTarget]:
    """Every model a tree can call, in tree order."""
    target = getattr(node, "target", None)
    found = [target] if isinstance(target, ModelTarget) else []
    for child in node.children():
        found.extend(leaf_targets(child))
    return found


def _check_providers(root: Node, settings: Mapping[str, ProviderSettings], extra: Mapping[str, Provider]) -> None:
    """Refuse to start when a model names a provider nobody declared: before anything is spent."""
    from mmo.core.errors import UnknownName

    known = [*settings, *extra]
    for target in leaf_targets(root):
        if target.ref.provider not in known:
            raise UnknownName("provider", target.ref.provider, known)


def warn_unknown_models(root: Node, settings: Mapping[str, ProviderSettings], prices: PriceBook, warn: Callable[[str], None]) -> None:
    """A model the price library does not know is often a typo (``gpt-5-mimi``): say so, with
    close matches, before anything is spent. Not an error: new models appear before the library
    knows them, and a profile may price them itself."""
    import difflib

    for target in leaf_targets(root):
        provider = settings.get(target.ref.provider)
        if provider is None or target.ref.provider not in BUILTIN_PROVIDERS or provider.kind == "replay":
            continue
        if target.local or prices.lookup(target.ref) is not None:
            continue
        known = [m.model for m in prices.known_models(target.ref.provider)]
        close = difflib.get_close_matches(target.ref.name, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else " (its cost will show as unknown)"
        warn(f"{target.id} is not a model the price library knows{hint}")


def learnt_token_estimator(env: AppEnv, model_ids: Sequence[str], runlog: RunLog | None = None) -> TokenEstimator:
    """The one token estimator, with each model's tokens-per-character ratio learnt from the run
    log when it holds enough calls of that model (chars/4 otherwise). No log yet: chars/4."""
    from mmo.runtime.tokens import TokenEstimator

    if runlog is not None:
        return TokenEstimator.from_runlog(runlog, model_ids)
    if not env.paths.runlog_path.exists():
        return TokenEstimator()
    from mmo.runtime.runlog import RunLog

    with RunLog(env.paths.runlog_path) as log:
        return TokenEstimator.from_runlog(log, model_ids)

"""The ``keys`` use cases: store, list and remove API keys. Values are stored and never shown."""

from __future__ import annotations

from dataclasses import dataclass

from mmo.app.portfolio import provider_settings
from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv, ProfileChoice
from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.providers.kinds import provider_kind


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One provider in ``mmo keys list``: its variable and where its key comes from."""

    provider: str
    env_var: str | None
    source: str  # "env OPENAI_API_KEY", "keyring", "not needed" or "-"


def check_key_target(provider: str, env: AppEnv, profile: str | None = None) -> str:
    """Before a key is asked for: the provider must be a built-in one or one the profile
    declares (``--profile``, else ``MMO_PROFILE``), and a keyring backend must exist. Returns the
    backend's name; a ``ConfigError`` (with a "did you mean") otherwise."""
    from mmo.core.errors import ConfigError, UnknownName
    from mmo.runtime.keys import keyring_backend

    known = dict(BUILTIN_PROVIDERS)
    name = profile or env.environ.get("MMO_PROFILE")
    if name is not None:
        known.update(provider_settings(resolve_profile(ProfileChoice(name), env).profile))
    if provider not in known:
        error = UnknownName("provider", provider, sorted(known))
        raise ConfigError(f"{error.message} (a provider a profile declares: pass --profile PROFILE)") from None
    backend = keyring_backend()
    if backend.startswith("fail.") or backend.endswith(".ChainerBackend") and _chain_is_empty():
        variable = known[provider].key_env or "the provider's key variable"
        raise ConfigError(
            f"no keyring backend on this machine ({backend}), so nothing can store the key: set {variable} in the environment "
            "instead, or install a backend (the Secret Service on a Linux desktop; `pip install keyrings.alt` for a plain-text file)"
        )
    return backend


def _chain_is_empty() -> bool:
    import keyring

    backends = getattr(keyring.get_keyring(), "backends", None)
    return backends is not None and not backends


def backend_description(backend: str) -> str:
    """The backend by name, saying so when it keeps keys as plain text on disk."""
    return f"{backend} (plain text on disk)" if "plaintext" in backend.lower() else backend


def store_key(provider: str, value: str, env: AppEnv) -> str | None:
    """Store ``value`` in the keyring; returns the provider's variable when it is set in the
    environment (it then wins over the keyring)."""
    from mmo.runtime.keys import KeyStore

    builtin = BUILTIN_PROVIDERS.get(provider)
    env_var = builtin.key_env if builtin else None
    KeyStore(env.environ).set(provider, value.strip(), env_var=env_var)
    return env_var if env_var and env.environ.get(env_var) else None


def key_rows(env: AppEnv, profile: str | None = None) -> list[KeyRow]:
    """Built-in providers (and a profile's own), the ones that take keys."""
    from mmo.runtime.keys import KeyStore

    settings = dict(BUILTIN_PROVIDERS)
    if profile:
        settings = provider_settings(resolve_profile(ProfileChoice(profile), env).profile)
    store = KeyStore(env.environ)
    rows: list[KeyRow] = []
    for name, entry in sorted(settings.items()):
        if not provider_kind(entry.kind).needs_key:
            continue
        source = store.source(name, entry.key_env, use_keyring=entry.keyring)
        if source is None:
            source = "not needed" if not entry.needs_key else "-"
        rows.append(KeyRow(name, entry.key_env, source))
    return rows


def remove_key(provider: str, env: AppEnv) -> bool:
    """Remove a provider's key from the keyring; whether there was one."""
    from mmo.runtime.keys import KeyStore

    return KeyStore(env.environ).delete(provider)

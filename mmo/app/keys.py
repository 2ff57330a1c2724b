"""The ``keys`` use cases: store, list and remove API keys. Values are stored and never shown.

Storing checks first that the provider is known (a built-in one, or one the ``--profile`` profile
or the default profile declares; a typo gets "did you mean") and that a keyring backend exists,
so nothing is asked for that cannot be kept. Messages name the real backend ("Secret Service",
"macOS Keychain", "plaintext file keyring (keyrings.alt)"), not "OS keyring". Without a
backend the error offers the opt-in key file (``--key-file`` or ``mmo config set key_file true``,
``mmo.runtime.key_file``), which is then named as plain text on disk; it is never used silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmo.app.portfolio import provider_settings
from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv, ProfileChoice
from mmo.catalog.endpoints import BUILTIN_PROVIDERS, ProviderSettings
from mmo.core.errors import ConfigError, UnknownName
from mmo.providers.kinds import provider_kind


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One provider in ``mmo keys list``: its variable and where its key comes from."""

    provider: str
    env_var: str | None
    source: str  # "env OPENAI_API_KEY", "keyring (Secret Service)", "not needed" or "-"


@dataclass(frozen=True, slots=True)
class KeyTarget:
    """Where ``mmo keys set`` will store a provider's key, checked before the secret is asked for."""

    provider: str
    env_var: str | None
    backend: str  # the keyring backend's name, e.g. "Secret Service", or the key file's label
    in_key_file: bool = False


def known_providers(env: AppEnv, profile: str | None) -> dict[str, ProviderSettings]:
    """Built-in providers and those the named profile (else the default one, if any) declares."""
    from mmo.config.loader import load_profile

    if profile is not None:
        return provider_settings(resolve_profile(ProfileChoice(profile), env).profile)
    default = env.environ.get("MMO_PROFILE") or "default"
    try:
        return provider_settings(load_profile(default, cwd=env.cwd, paths=env.paths).profile)
    except ConfigError:  # no default profile (or a broken one): the built-ins still count
        return dict(BUILTIN_PROVIDERS)


def key_target(provider: str, env: AppEnv, profile: str | None = None, *, key_file: bool = False) -> KeyTarget:
    """Checks that ``provider`` is known and, unless the key file is opted in to (``key_file``,
    ``MMO_KEY_FILE``, the config's ``key_file``), that a keyring backend exists; raises
    ``ConfigError``."""
    from mmo.app.user_config import key_file_opted_in
    from mmo.runtime.keys import KeyStore, default_env_var, require_keyring_backend

    settings = known_providers(env, profile)
    if provider not in settings:
        raise UnknownName("provider", provider, sorted(settings))
    env_var = settings[provider].key_env or default_env_var(provider)
    if key_file_opted_in(env, key_file):
        return KeyTarget(provider, env_var, KeyStore(env.environ).key_file.label, in_key_file=True)
    try:
        return KeyTarget(provider, env_var, require_keyring_backend(env_var))
    except ConfigError as error:
        offer = f"; or keep it in a plain-text key file readable only by you: mmo keys set {provider} --key-file (or mmo config set key_file true)"
        raise ConfigError(error.message + offer) from None


def store_key(target: KeyTarget, value: str, env: AppEnv) -> str | None:
    """Store ``value`` in the keyring; returns the provider's variable when it is set in the
    environment (it then wins over the keyring)."""
    from mmo.runtime.keys import KeyStore

    store = KeyStore(env.environ)
    if target.in_key_file:
        store.set_in_key_file(target.provider, value)
    else:
        store.set(target.provider, value.strip(), env_var=target.env_var)
    env_var = target.env_var
    return env_var if env_var and env.environ.get(env_var) else None


def key_rows(env: AppEnv, profile: str | None = None) -> list[KeyRow]:
    """Built-in providers (and a profile's own), the ones that take keys."""
    from mmo.runtime.keys import KEYRING_SOURCE, KeyStore, keyring_backend_name

    settings = dict(BUILTIN_PROVIDERS)
    if profile:
        settings = provider_settings(resolve_profile(ProfileChoice(profile), env).profile)
    store = KeyStore(env.environ)
    keyring_label = f"keyring ({keyring_backend_name()})"
    rows: list[KeyRow] = []
    for name, entry in sorted(settings.items()):
        if not provider_kind(entry.kind).needs_key:
            continue
        source = store.source(name, entry.key_env, use_keyring=entry.keyring)
        if source is None:
            source = "not needed" if not entry.needs_key else "-"
        elif source == KEYRING_SOURCE:
            source = keyring_label
        rows.append(KeyRow(name, entry.key_env, source))
    return rows


def remove_key(provider: str, env: AppEnv) -> bool:
    """Remove a provider's key from the keyring; whether there was one."""
    from mmo.runtime.keys import KeyStore

    return KeyStore(env.environ).delete(provider)

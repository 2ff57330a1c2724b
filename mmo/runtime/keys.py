"""API keys: an environment variable first (CI, one-off overrides), then the keyring, then the
opt-in key file (``mmo.runtime.key_file``); the keyring and the key file hold keys for the
providers' own hosts only: a provider pointed elsewhere resolves only the variable its profile
names (``use_keyring=False``, ``mmo.catalog.key_scope``). These two are the only places a key is
ever stored.

Keys live in the keyring under service ``mmo`` with the provider name as the user name. On a box
without a keyring backend (headless Linux, CI containers) keyring selects its ``fail`` backend,
which raises ``NoKeyringError`` on every call; we turn that into advice to use the environment.

A key's value never appears in a repr, a message or an exception raised here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from mmo.catalog.endpoints import BUILTIN_PROVIDERS, env_name
from mmo.core.errors import ConfigError, MissingKey

SERVICE = "mmo"
KEYRING_SOURCE = "keyring"


@dataclass(frozen=True, slots=True, repr=False)
class ResolvedKey:
    """A key and where it came from ("env OPENAI_API_KEY" or "keyring"). Printing it shows only
    the source."""

    value: str
    source: str

    def __repr__(self) -> str:
        return f"ResolvedKey(source={self.source!r})"

    def __str__(self) -> str:
        return f"<key from {self.source}>"


def default_env_var(provider: str) -> str:
    """The key variable of a built-in provider, else ``<PROVIDER>_API_KEY``."""
    builtin = BUILTIN_PROVIDERS.get(provider)
    if builtin is not None and builtin.key_env:
        return builtin.key_env
    return f"{env_name(provider)}_API_KEY"


def keyring_backend() -> str:
    """The OS keyring backend in use, by module and class (``fail.Keyring`` when there is none)."""
    import keyring

    backend = keyring.get_keyring()
    return f"{type(backend).__module__.removeprefix('keyring.backends.')}.{type(backend).__name__}"


# What users call the backends keyring picks (by module): "OS keyring" hid that a backend may be a
# plain file on disk.
_BACKEND_NAMES = {
    "keyring.backends.SecretService": "Secret Service",
    "keyring.backends.macOS": "macOS Keychain",
    "keyring.backends.Windows": "Windows Credential Manager",
    "keyring.backends.kwallet": "KWallet",
    "keyring.backends.libsecret": "libsecret",
    "keyrings.alt.file": "plaintext file keyring (keyrings.alt)",
}


def keyring_backend_name() -> str | None:
    """The keyring backend in use as users know it ("Secret Service", "macOS Keychain", ...), or
    ``None`` when there is no usable backend (keyring's ``fail`` backend)."""
    import keyring
    import keyring.backends.fail

    backend = keyring.get_keyring()
    if isinstance(backend, keyring.backends.fail.Keyring):
        return None
    kind = type(backend)
    if kind.__module__ == "keyrings.alt.file" and kind.__name__ != "PlaintextKeyring":
        return f"encrypted file keyring (keyrings.alt {kind.__name__})"
    return _BACKEND_NAMES.get(kind.__module__, f"{kind.__module__}.{kind.__name__}")


def require_keyring_backend(env_var: str | None) -> str:
    """The backend's name; raises ``ConfigError`` (naming the variable to use instead) when there
    is none, so ``mmo keys set`` says so before asking for a secret."""
    name = keyring_backend_name()
    if name is None:
        from keyring.errors import NoKeyringError

        raise ConfigError(f"cannot store a key: {_no_keyring_advice(NoKeyringError(), env_var)}")
    return name


def _no_keyring_advice(error: Exception, env_var: str | None) -> str:
    fix = f"set {env_var} in the environment instead" if env_var else "give this provider a key environment variable instead"
    return f"no OS keyring is available on this machine ({type(error).__name__}); {fix}"


class KeyStore:
    """Resolves, stores and removes API keys. ``environ`` is read, never written; it also locates
    the key file (``MMO_HOME`` / the user config dir)."""

    __slots__ = ("_environ", "key_file")

    def __init__(self, environ: Mapping[str, str]) -> None:
        from mmo.runtime.key_file import KeyFile, key_file_path

        self._environ = environ
        self.key_file = KeyFile(key_file_path(environ))

    def _from_file(self, provider: str) -> ResolvedKey | None:
        value = self.key_file.get(provider)
        return ResolvedKey(value, self.key_file.label) if value else None

    def _from_env(self, env_var: str | None) -> ResolvedKey | None:
        value = self._environ.get(env_var, "").strip() if env_var else ""
        return ResolvedKey(value, f"env {env_var}") if value else None

    def resolve(self, provider: str, env_var: str | None, *, use_keyring: bool = True) -> ResolvedKey:
        """The key for ``provider``; raises ``MissingKey`` (naming the fix) when there is none.
        ``use_keyring=False``: only ``env_var`` (the provider points somewhere the keyring's key
        must not go, ``mmo.catalog.key_scope``)."""
        from_env = self._from_env(env_var)
        if from_env is not None:
            return from_env
        if not use_keyring:
            detail = " (the keyring's key goes only to the provider's own host)"
            raise MissingKey(provider, env_var, detail, keyring=False)
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(SERVICE, provider)
        except KeyringError as error:
            if (from_file := self._from_file(provider)) is not None:
                return from_file
            # The same words for every provider, so a failure naming several says them once.
            raise MissingKey(provider, env_var, f" (no OS keyring is available on this machine ({type(error).__name__}): "
                                                "use the environment variable)") from None
        if not value:
            if (from_file := self._from_file(provider)) is not None:
                return from_file
            raise MissingKey(provider, env_var)
        return ResolvedKey(value, KEYRING_SOURCE)

    def source(self, provider: str, env_var: str | None, *, use_keyring: bool = True) -> str | None:
        """Where the key would come from, or ``None``; never the value, never raises for a
        missing keyring backend."""
        from_env = self._from_env(env_var)
        if from_env is not None:
            return from_env.source
        if not use_keyring:
            return None
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(SERVICE, provider)
        except KeyringError:
            value = None
        if value:
            return KEYRING_SOURCE
        from_file = self._from_file(provider)
        return from_file.source if from_file is not None else None

    def set(self, provider: str, value: str, *, env_var: str | None = None) -> None:
        """Store a key in the OS keyring. Surrounding whitespace (a pasted newline) is dropped."""
        value = value.strip()
        if not value:
            raise ConfigError(f"refusing to store an empty key for provider {provider!r}")
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(SERVICE, provider, value)
        except KeyringError as error:
            advice = _no_keyring_advice(error, env_var or default_env_var(provider))
            raise ConfigError(f"cannot store the key for provider {provider!r}: {advice}") from None

    def set_in_key_file(self, provider: str, value: str) -> None:
        """Store a key in the opt-in key file (plain text, owner-only)."""
        value = value.strip()
        if not value:
            raise ConfigError(f"refusing to store an empty key for provider {provider!r}")
        self.key_file.set(provider, value)

    def delete(self, provider: str) -> bool:
        """Remove a stored key from the keyring and the key file; ``False`` when neither had one."""
        import keyring
        from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

        in_file = self.key_file.delete(provider)
        try:
            keyring.delete_password(SERVICE, provider)
        except (PasswordDeleteError, NoKeyringError):
            return in_file
        except KeyringError as error:
            raise ConfigError(f"cannot remove the key for provider {provider!r}: keyring error {type(error).__name__}") from None
        return True

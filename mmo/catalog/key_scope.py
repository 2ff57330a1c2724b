"""Where a built-in provider's key may go: only to that provider's own host.

A profile may point a built-in provider (``openai``, ``groq`` ...) at another ``base_url``, and a
profile may come from a cloned repository. The key the user keeps for that provider (its
environment variable, or the OS keyring) is meant for the vendor's own host, so it goes nowhere
else unless the profile names the key it sends there (``key_env:``). A URL is the provider's own
when its scheme, host and port are those of the built-in base URL (``http://api.openai.com`` is
not: the key would cross the network in clear). A loopback host (``localhost``, ``127.0.0.0/8``,
``::1``: a local server, Ollama, vLLM, a test double) gets no key unless one is named: local
servers need none. The base-URL environment variables (``OPENAI_BASE_URL`` ...) are the user's own
choice and are not checked.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from mmo.catalog.endpoints import ProviderSettings

KeyScope = Literal["own", "loopback", "elsewhere"]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def key_scope(builtin: ProviderSettings, base_url: str | None) -> KeyScope:
    """Whether ``base_url`` (a profile's, for the built-in provider ``builtin``) is that
    provider's own host, a loopback one, or somewhere else."""
    if not base_url or _origin(base_url) == _origin(builtin.base_url or ""):
        return "own"
    return "loopback" if is_loopback(base_url) else "elsewhere"


def key_goes_elsewhere(builtin: ProviderSettings, base_url: str | None, *, key_env: str | None, key: str) -> bool:
    """Whether a profile's entry for ``builtin`` would send the user's key for it to a host that
    is neither its own nor a loopback one, without naming the key: a profile refused."""
    needs_key = key != "none" and builtin.needs_key
    return needs_key and not key_env and key_scope(builtin, base_url) == "elsewhere"


def foreign_key_message(name: str, builtin: ProviderSettings, base_url: str) -> str:
    """What to say when ``key_goes_elsewhere``: the two hosts, and both fixes."""
    own, host = host_of(builtin.base_url or ""), host_of(base_url)
    return (
        f"base_url points the built-in provider {name!r} at {host}, not {own}: its key ({builtin.key_env} or the keyring's) "
        f"is only ever sent to {own}. Name the key this server gets with `key_env: VARIABLE` (`key_env: {builtin.key_env}` "
        "sends that same key on purpose), set `key: none` if it needs none, or declare it under another provider name"
    )


def host_of(url: str) -> str:
    """The host a URL names, for messages (the URL itself when it names none)."""
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def is_loopback(url: str) -> bool:
    host = host_of(url).lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number: never anyone's own host
        return None

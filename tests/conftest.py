"""Test isolation: every test gets its own MMO_HOME, an environment without provider keys or
base-URL overrides, and an in-memory keyring, so nothing touches the real user's files, keys or
the network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import keyring
import keyring.backend
import pytest

if TYPE_CHECKING:
    from tests.support.loopback import LoopbackServer

DATA = Path(__file__).parent / "data"

_ENV_PREFIXES = ("MMO_",)
_ENV_SUFFIXES = ("_API_KEY", "_BASE_URL")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict: what tests install instead of the OS's."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.store:
            raise PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name.endswith(_ENV_SUFFIXES):
            monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "mmo-home"
    monkeypatch.setenv("MMO_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> MemoryKeyring:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


# --- the loopback fake provider (tests/support/loopback) -------------------------------------


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A started loopback fake provider on 127.0.0.1 (ephemeral port, default behaviour: instant
    echo answers), bounded to 120 s, stopped after the test. Script it with
    ``loopback.script(model, Fault...)``; point adapters at ``loopback.openai_base_url`` etc."""
    from tests.support.loopback import LoopbackServer

    server = LoopbackServer(lifetime_s=120.0, max_requests=100_000).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real Redis started for this test on a free loopback port (``tests.support.redis_server``):
    skipped without ``redis-server``, failed without it under ``CI``."""
    from tests.support.redis_server import redis_server

    directory = tmp_path / "redis"
    directory.mkdir()
    with redis_server(directory) as url:
        yield url

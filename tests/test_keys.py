from __future__ import annotations

from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.backends.fail
import pytest
from keyring.errors import KeyringLocked

from mmo.core.errors import ConfigError, MissingKey
from mmo.runtime.keys import KeyStore, ResolvedKey

SECRET = "sk-test-0123456789abcdef"


class LockedKeyring(keyring.backend.KeyringBackend):
    """A backend that exists but refuses every call, as a locked desktop keyring does."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("locked")


@pytest.fixture
def no_keyring() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_environment_wins_over_keyring() -> None:
    store = KeyStore({"OPENAI_API_KEY": SECRET})
    store.set("openai", "sk-from-keyring")
    key = store.resolve("openai", "OPENAI_API_KEY")
    assert key.value == SECRET
    assert key.source == "env OPENAI_API_KEY"
    assert store.source("openai", "OPENAI_API_KEY") == "env OPENAI_API_KEY"


def test_keyring_used_when_environment_has_none(memory_keyring) -> None:
    store = KeyStore({"OPENAI_API_KEY": "  "})
    store.set("openai", SECRET + "\n")
    assert memory_keyring.store[("mmo", "openai")] == SECRET
    key = store.resolve("openai", "OPENAI_API_KEY")
    assert key == ResolvedKey(SECRET, "keyring")
    assert store.source("openai", "OPENAI_API_KEY") == "keyring"
    assert store.resolve("openai", None).value == SECRET


def test_missing_key_names_the_command_and_the_variable() -> None:
    store = KeyStore({})
    with pytest.raises(MissingKey) as caught:
        store.resolve("groq", "GROQ_API_KEY")
    assert "mmo keys set groq" in str(caught.value)
    assert "GROQ_API_KEY" in str(caught.value)
    assert caught.value.provider == "groq"
    assert store.source("groq", "GROQ_API_KEY") is None


def test_resolved_key_never_shows_its_value() -> None:
    key = ResolvedKey(SECRET, "env OPENAI_API_KEY")
    assert SECRET not in repr(key)
    assert SECRET not in str(key)
    assert SECRET not in f"{key}"
    assert SECRET not in repr([key])
    assert "env OPENAI_API_KEY" in repr(key)


def test_set_rejects_an_empty_key(memory_keyring) -> None:
    store = KeyStore({})
    with pytest.raises(ConfigError):
        store.set("openai", "  \n")
    assert memory_keyring.store == {}


def test_delete_reports_whether_a_key_was_there() -> None:
    store = KeyStore({})
    store.set("anthropic", SECRET)
    assert store.delete("anthropic") is True
    assert store.delete("anthropic") is False
    with pytest.raises(MissingKey):
        store.resolve("anthropic", "ANTHROPIC_API_KEY")


def test_without_a_keyring_backend_the_error_points_to_the_environment(no_keyring: None) -> None:
    store = KeyStore({})
    with pytest.raises(MissingKey) as caught:
        store.resolve("openai", "OPENAI_API_KEY")
    message = str(caught.value)
    assert "no OS keyring is available" in message
    assert "set OPENAI_API_KEY" in message and "use the environment variable" in message
    assert "mmo keys set openai" in message
    assert store.source("openai", "OPENAI_API_KEY") is None
    assert store.delete("openai") is False


def test_without_a_keyring_backend_set_fails_with_the_variable_to_use(no_keyring: None) -> None:
    store = KeyStore({})
    with pytest.raises(ConfigError) as caught:
        store.set("gemini", SECRET)
    assert "GEMINI_API_KEY" in str(caught.value)
    assert SECRET not in str(caught.value)
    with pytest.raises(ConfigError) as custom:
        store.set("my-proxy", SECRET)
    assert "MY_PROXY_API_KEY" in str(custom.value)


def test_without_a_keyring_backend_the_environment_still_works(no_keyring: None) -> None:
    store = KeyStore({"OPENAI_API_KEY": SECRET})
    assert store.resolve("openai", "OPENAI_API_KEY").source == "env OPENAI_API_KEY"
    assert store.source("openai", "OPENAI_API_KEY") == "env OPENAI_API_KEY"


def test_a_locked_keyring_is_reported_not_raised_raw() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        store = KeyStore({})
        with pytest.raises(MissingKey) as caught:
            store.resolve("openai", "OPENAI_API_KEY")
        assert "KeyringLocked" in str(caught.value)
        assert store.source("openai", "OPENAI_API_KEY") is None
        with pytest.raises(ConfigError):
            store.set("openai", SECRET)
        with pytest.raises(ConfigError):
            store.delete("openai")
    finally:
        keyring.set_keyring(previous)


def test_importing_the_keys_module_does_not_import_keyring() -> None:
    import subprocess
    import sys

    code = "import sys, mmo.runtime.keys; print('keyring' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


# ---- keys set checks before it asks ----------------------------------------------------------


def _keys_set(*args: str, input: str = SECRET + "\n") -> Any:
    from typer.testing import CliRunner

    from mmo.cli.main import app

    return CliRunner().invoke(app, ["keys", "set", *args], input=input)


def test_keys_set_refuses_a_mistyped_provider_with_a_did_you_mean(memory_keyring: Any) -> None:
    result = _keys_set("opnai")
    assert result.exit_code == 2
    assert "did you mean 'openai'" in result.stderr
    assert memory_keyring.get_password("mmo", "opnai") is None


def test_keys_set_takes_a_provider_the_profile_declares(tmp_path: Path, memory_keyring: Any) -> None:
    profile = tmp_path / "corp.yaml"
    profile.write_text('providers:\n  corp: {kind: openai, base_url: "https://llm.example.com/v1", key_env: CORP_API_KEY}\n'
                       'models:\n  m: "corp:model"\nstrategy: m\n')
    assert _keys_set("corp").exit_code == 2
    stored = _keys_set("corp", "--profile", str(profile))
    assert stored.exit_code == 0, stored.stderr
    assert "MemoryKeyring" in stored.stdout


def test_keys_set_checks_the_backend_before_asking_for_the_key(no_keyring: None) -> None:
    result = _keys_set("openai", input="")
    assert result.exit_code == 2
    assert "no OS keyring is available on this machine" in result.stderr and "set OPENAI_API_KEY" in result.stderr
    assert "API key for" not in result.output  # never prompted

"""``mmo keys set`` checks the provider and the keyring backend before it asks for a secret, and
names the backend; ``mmo keys list --json`` says where each key comes from, never the value."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from typer.testing import CliRunner

from mmo.cli.main import app

SECRET = "sk-test-keys-set-0123456789"


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=input)


def test_a_mistyped_provider_is_refused_with_a_suggestion(memory_keyring) -> None:  # type: ignore[no-untyped-def]
    result = run("keys", "set", "opnai", input=SECRET + "\n")
    assert result.exit_code == 2
    assert "unknown provider 'opnai'" in result.stderr and "did you mean 'openai'" in result.stderr
    assert memory_keyring.store == {}
    assert SECRET not in result.stdout + result.stderr


def test_without_a_backend_nothing_is_asked_for() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = run("keys", "set", "openai")  # stdin is empty: reading it would end in 'empty key'
    assert result.exit_code == 2
    assert "cannot store a key" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert "refusing to store an empty key" not in result.stderr


def test_a_provider_the_profile_declares_is_accepted(isolated_env: Path, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    profiles = isolated_env / "config" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "proxied.yaml").write_text('providers:\n  my-proxy: {kind: openai, base_url: "http://127.0.0.1:9/v1"}\nstrategy: "my-proxy:m"\n')
    assert run("keys", "set", "my-proxy", input=SECRET).exit_code == 2  # not a built-in, no profile named
    result = run("keys", "set", "my-proxy", "--profile", "proxied", input=SECRET)
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.store[("mmo", "my-proxy")] == SECRET
    (profiles / "default.yaml").write_text((profiles / "proxied.yaml").read_text())
    assert run("keys", "set", "my-proxy", input=SECRET).exit_code == 0  # the default profile's providers count


def test_the_message_names_the_real_backend(memory_keyring) -> None:  # type: ignore[no-untyped-def]
    from mmo.runtime.keys import keyring_backend_name

    result = run("keys", "set", "groq", input=SECRET)
    assert result.exit_code == 0, result.stderr
    assert "OS keyring" not in result.stdout
    assert "keyring (tests.conftest.MemoryKeyring)" in result.stdout
    keyring.set_keyring(keyring.backends.fail.Keyring())
    assert keyring_backend_name() is None


def test_a_plaintext_file_backend_is_called_one(tmp_path: Path) -> None:
    from mmo.runtime.keys import keyring_backend_name

    class PlaintextKeyring(keyring.backend.KeyringBackend):  # keyrings.alt's class, as keyring sees it
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise NotImplementedError

        def delete_password(self, service: str, username: str) -> None:
            raise NotImplementedError

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    keyring.set_keyring(PlaintextKeyring())
    assert keyring_backend_name() == "plaintext file keyring (keyrings.alt)"


def test_keys_list_json_says_where_each_key_comes_from(monkeypatch: pytest.MonkeyPatch, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    assert run("keys", "set", "groq", input=SECRET).exit_code == 0
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    result = run("keys", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    rows = {row["provider"]: row for row in json.loads(result.stdout)}
    assert rows["openai"]["source"] == "env OPENAI_API_KEY"
    assert rows["groq"] == {"provider": "groq", "env_var": "GROQ_API_KEY", "source": "keyring (tests.conftest.MemoryKeyring)"}
    assert rows["anthropic"]["source"] == "-"

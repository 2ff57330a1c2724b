"""The opt-in key file: used only when asked for, owner-only (0600) and written atomically,
refused when it is a symbolic link, not a regular file or readable by others; the environment
variable still wins over it; its keys are never shown."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from mmo.core.errors import ConfigError
from mmo.runtime.keys import KeyStore

SECRET = "sk-test-key-file-0123456789"


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=input)


@pytest.fixture
def no_keyring() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the autouse memory_keyring fixture restores it


def key_file(home: Path) -> Path:
    return home / "config" / "keys.json"


def test_without_a_backend_the_key_file_is_offered_not_used(isolated_env: Path, no_keyring: None) -> None:
    result = run("keys", "set", "openai", input=SECRET)
    assert result.exit_code == 2
    assert "--key-file" in result.stderr and "plain-text key file" in result.stderr
    assert not key_file(isolated_env).exists()


def test_opting_in_stores_the_key_owner_only(isolated_env: Path, no_keyring: None) -> None:
    result = run("keys", "set", "openai", "--key-file", input=SECRET + "\n")
    assert result.exit_code == 0, result.stderr
    path = key_file(isolated_env)
    assert f"key file {path} (plain text on disk)" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0  # the directory it created too
    assert json.loads(path.read_text()) == {"openai": SECRET}
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]  # no temporary file left
    store = KeyStore({"MMO_HOME": str(isolated_env)})
    resolved = store.resolve("openai", "OPENAI_API_KEY")
    assert resolved.value == SECRET and resolved.source == f"key file {path} (plain text on disk)"
    winner = KeyStore({"MMO_HOME": str(isolated_env), "OPENAI_API_KEY": "sk-env"}).resolve("openai", "OPENAI_API_KEY")
    assert winner.source == "env OPENAI_API_KEY"  # the environment still wins
    listing = run("keys", "list", "--json")
    rows = {row["provider"]: row for row in json.loads(listing.stdout)}
    assert rows["openai"]["source"] == f"key file {path} (plain text on disk)"
    assert SECRET not in listing.stdout + listing.stderr + result.stdout + result.stderr
    assert run("keys", "rm", "openai").exit_code == 0
    assert json.loads(path.read_text()) == {}


def test_the_config_setting_opts_in(isolated_env: Path, no_keyring: None) -> None:
    assert run("config", "set", "key_file", "true").exit_code == 0
    assert run("keys", "set", "groq", input=SECRET).exit_code == 0
    assert json.loads(key_file(isolated_env).read_text()) == {"groq": SECRET}


def test_a_file_others_can_read_is_refused(isolated_env: Path) -> None:
    path = key_file(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"openai": SECRET}))
    os.chmod(path, 0o644)
    store = KeyStore({"MMO_HOME": str(isolated_env)})
    with pytest.raises(ConfigError) as caught:
        store.resolve("openai", "OPENAI_API_KEY")
    assert "readable or writable by others" in str(caught.value) and f"chmod 600 {path}" in str(caught.value)
    assert SECRET not in str(caught.value)
    result = run("keys", "set", "openai", "--key-file", input="sk-other")
    assert result.exit_code == 2 and "refusing to use the key file" in result.stderr
    assert json.loads(path.read_text()) == {"openai": SECRET}  # not rewritten


def test_a_symlink_or_a_fifo_is_refused(isolated_env: Path, tmp_path: Path) -> None:
    path = key_file(isolated_env)
    path.parent.mkdir(parents=True)
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"openai": SECRET}))
    os.chmod(target, 0o600)
    path.symlink_to(target)
    result = run("keys", "set", "openai", "--key-file", input="sk-other")
    assert result.exit_code == 2 and "is a symbolic link" in result.stderr
    assert json.loads(target.read_text()) == {"openai": SECRET} and path.is_symlink()
    with pytest.raises(ConfigError, match="symbolic link"):
        KeyStore({"MMO_HOME": str(isolated_env)}).resolve("openai", "OPENAI_API_KEY")
    path.unlink()
    os.mkfifo(path, 0o600)
    with pytest.raises(ConfigError, match="not a regular file"):
        KeyStore({"MMO_HOME": str(isolated_env)}).source("openai", "OPENAI_API_KEY")


def test_a_key_from_the_key_file_goes_to_the_server_and_nowhere_else(isolated_env: Path, tmp_path: Path, loopback, no_keyring: None) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    profile = tmp_path / "p.yaml"
    profile.write_text(
        f"providers:\n  loop: {{kind: openai, base_url: '{loopback.openai_base_url}'}}\n"
        "models:\n  m: {model: 'loop:m', price: {input: 1, output: 1}}\nstrategy: m\n"
    )
    assert run("ask", "--profile", str(profile), "hello").exit_code == 3
    assert run("keys", "set", "loop", "--key-file", "-P", str(profile), input=SECRET).exit_code == 0
    outputs = []
    for args in (["--json"], ["--explain"]):
        result = run("ask", "--profile", str(profile), *args, "hello")
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert all(SECRET not in text for text in outputs)
    assert loopback.requests  # the calls were made: without the key file's key, `loop` has none (exit 3)
    for path in isolated_env.rglob("*"):
        if path.is_file() and path != key_file(isolated_env):
            assert SECRET.encode() not in path.read_bytes(), f"key found in {path}"
    db = sqlite3.connect(isolated_env / "data" / "runlog.sqlite3")
    rows = db.execute("select * from runs").fetchall() + db.execute("select * from attempts").fetchall()
    assert rows and SECRET not in repr(rows)

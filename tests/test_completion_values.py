"""`mmo completions bash|zsh|fish` prints the script for an installed mmo, and completion offers
profile names, provider names and a profile's model aliases (a real bash runs the script)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app

BIN = Path(sys.executable).parent


def test_the_scripts_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o default -F _mmo_completion mmo"), ("zsh", "#compdef mmo"), ("fish", "complete --command mmo")):
        result = CliRunner().invoke(app, ["completions", shell])
        assert result.exit_code == 0 and marker in result.stdout, (shell, result.output)
    unknown = CliRunner().invoke(app, ["completions", "powershel"])
    assert unknown.exit_code == 2 and "unknown shell" in unknown.stderr and "bash, fish, zsh" in unknown.stderr


def complete(words: list[str], cwd: Path) -> list[str]:
    """What a real bash offers after ``words`` (the last one being typed)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed: `apt-get install bash`")
    if not (BIN / "mmo").exists():
        pytest.skip(f"mmo is not installed in {BIN}: `pip install -e .`")
    script = (
        "source <(mmo completions bash); "
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
        '_mmo_completion mmo; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_offers_profile_names_aliases_providers_and_commands(tmp_path: Path) -> None:
    assert complete(["mmo", "ask", "-P", "multi"], tmp_path) == ["multi-vendor", "multimodal"]
    assert {"chat", "flash", "nano", "openai:gpt-4.1-nano"} <= set(complete(["mmo", "ask", "-P", "multimodal", "-m", ""], tmp_path))
    assert complete(["mmo", "keys", "set", "an"], tmp_path) == ["anthropic"]
    assert "chat" in complete(["mmo", "ch"], tmp_path)


def test_a_broken_profile_offers_nothing_and_says_nothing(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "broken.yaml").write_text("models: [not, a, mapping\n")
    assert complete(["mmo", "ask", "-P", "broken", "-m", ""], tmp_path) == []
    assert "broken" in complete(["mmo", "ask", "-P", "bro"], tmp_path)

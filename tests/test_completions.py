"""The checked-in completion scripts are what the current CLI emits (regenerate with
`python completions/generate.py`), and they complete real commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from completions.generate import SHELLS, emit

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_checked_in_script_is_current(shell: str) -> None:
    checked_in = (COMPLETIONS / SHELLS[shell]).read_text()
    assert checked_in == emit(shell), f"completions/{SHELLS[shell]} is stale: run python completions/generate.py"


def test_bash_completion_lists_the_commands() -> None:
    env = {**os.environ, "_MMO_COMPLETE": "complete_bash", "COMP_WORDS": "mmo ", "COMP_CWORD": "1"}
    code = "import sys; sys.argv[0] = 'mmo'; from mmo.cli.main import app; app(prog_name='mmo')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    words = set(result.stdout.split())
    assert {"ask", "demo", "models", "keys", "cache", "profiles"} <= words


def _mmo_dir() -> str:
    """The directory of the installed ``mmo`` script: the completion script calls ``mmo`` by name."""
    return str(Path(sys.executable).parent)


def _bash_complete(words: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Source ``mmo completions bash`` in a real bash and run its completion function."""
    script = subprocess.run([f"{_mmo_dir()}/mmo", "completions", "bash"], capture_output=True, text=True, check=True).stdout
    array = " ".join(f"'{word}'" for word in words)
    code = f'{script}\nCOMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _mmo_completion mmo; printf "%s\\n" "${{COMPREPLY[@]}}"'
    env = {"PATH": f"{_mmo_dir()}:{os.environ['PATH']}", "MMO_HOME": str(home), "HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_the_completions_command_prints_the_script(shell: str) -> None:
    from typer.testing import CliRunner

    from mmo.cli.main import app

    result = CliRunner().invoke(app, ["completions", shell])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (COMPLETIONS / SHELLS[shell]).read_text()
    assert "_MMO_COMPLETE" in result.stdout and "mmo" in result.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_real_bash_completes_profiles_providers_and_model_aliases(tmp_path: Path) -> None:
    home = tmp_path / "home"
    profiles = home / "config" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "mine.yaml").write_text(
        'providers:\n  my-proxy: {kind: openai, base_url: "http://127.0.0.1:9/v1"}\n'
        "models:\n  quick: my-proxy:small\n  deep: my-proxy:large\nstrategy: quick\n"
    )
    offered = _bash_complete(["mmo", "ask", "--profile", "mi"], home, tmp_path)
    assert offered.stdout.split() == ["mine"], offered.stderr
    assert {"demo", "mine"} <= set(_bash_complete(["mmo", "ask", "-P", ""], home, tmp_path).stdout.split())
    assert _bash_complete(["mmo", "ask", "-P", "mine", "-m", ""], home, tmp_path).stdout.split() == ["deep", "quick"]
    assert _bash_complete(["mmo", "ask", "-P", "demo", "--model", "gp"], home, tmp_path).stdout.split() == ["gpt4o"]
    assert _bash_complete(["mmo", "keys", "set", "op"], home, tmp_path).stdout.split() == ["openai", "openrouter"]
    assert "my-proxy" in _bash_complete(["mmo", "keys", "set", "-P", "mine", ""], home, tmp_path).stdout.split()
    assert _bash_complete(["mmo", "models", "--provider", "gr"], home, tmp_path).stdout.split() == ["groq"]
    assert "completions" in _bash_complete(["mmo", "comp"], home, tmp_path).stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_broken_profile_completes_quietly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    profiles = home / "config" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "default.yaml").write_text("models: [unclosed\n")
    (profiles / "odd.yaml").write_text("- a list, not a profile\n")
    for words in (["mmo", "ask", "-m", ""], ["mmo", "ask", "-P", "odd", "-m", ""], ["mmo", "ask", "-P", "nosuch", "-m", ""]):
        result = _bash_complete(words, home, tmp_path)
        assert result.returncode == 0
        assert result.stdout.strip() == "" and result.stderr == ""
    assert "openai" in _bash_complete(["mmo", "keys", "set", ""], home, tmp_path).stdout.split()

"""The checked-in completion scripts are what the current CLI emits (regenerate with
`python completions/generate.py`), and they complete real commands."""

from __future__ import annotations

import os
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

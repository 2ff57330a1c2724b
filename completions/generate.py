"""Regenerate the shell completion scripts: `python completions/generate.py`.

Typer emits them when the program runs with `_MMO_COMPLETE=source_<shell>`; a test fails when the
checked-in files differ from what the current CLI emits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHELLS = {"bash": "mmo.bash", "zsh": "mmo.zsh", "fish": "mmo.fish"}


def emit(shell: str) -> str:
    env = {**os.environ, "_MMO_COMPLETE": f"source_{shell}"}
    code = "import sys; sys.argv[0] = 'mmo'; from mmo.cli.main import app; app(prog_name='mmo')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if not result.stdout.strip():
        raise SystemExit(f"no completion script for {shell}: {result.stderr.strip()}")
    return result.stdout


def main() -> None:
    for shell, name in SHELLS.items():
        target = HERE / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(emit(shell))
        tmp.replace(target)
        print(f"wrote {target.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()

"""The extension guide (docs/EXTENDING.md) tells the truth: its strategy, gate and provider diffs
apply to a copy of the package and work together offline, each through one new module and one
registration line; its command diff is the code `mmo paths` ships with."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "EXTENDING.md"


def diffs() -> list[str]:
    return re.findall(r"```diff\n(.*?)\n```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)


def smoke_profile() -> str:
    return re.search(r"```yaml\n(.*?)\n```", GUIDE.read_text(encoding="utf-8"), re.DOTALL).group(1)  # type: ignore[union-attr]


def git_apply(diff: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        pytest.skip("git is needed to apply the guide's diffs")
    return subprocess.run(["git", "apply", *flags, "-"], input=diff + "\n", cwd=cwd, capture_output=True, text=True, check=False)


def test_each_extension_is_one_new_module_and_one_registration_line() -> None:
    strategy, gate, provider, _command = diffs()
    for diff in (strategy, gate, provider):
        new_files = re.findall(r"^--- /dev/null\n\+\+\+ b/(\S+)", diff, re.MULTILINE)
        changed = [path for path in re.findall(r"^\+\+\+ b/(\S+)", diff, re.MULTILINE) if path not in new_files]
        assert len(new_files) == 1 and len(changed) == 1, (new_files, changed)
        edits = [line for line in _hunk_lines(diff, changed[0]) if line.startswith(("+", "-"))]
        assert len(edits) == 1 and edits[0].startswith("+"), edits  # one line added to a registry


def _hunk_lines(diff: str, path: str) -> list[str]:
    section = diff.split(f"+++ b/{path}\n", 1)[1]
    return [line for line in section.split("\ndiff --git", 1)[0].splitlines() if not line.startswith("@@")]


def test_the_strategy_gate_and_provider_diffs_apply_and_run_offline(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "mmo", copy / "mmo", ignore=shutil.ignore_patterns("__pycache__"))
    for diff in diffs()[:3]:
        applied = git_apply(diff, copy)
        assert applied.returncode == 0, applied.stderr
    (copy / "smoke.yaml").write_text(smoke_profile() + "\n")
    env = {**os.environ, "PYTHONPATH": str(copy), "MMO_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    run = subprocess.run([sys.executable, "-m", "mmo", "ask", "-P", "smoke.yaml", "--json", "hello there"], cwd=copy, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["answer"] == "you said: hello there"
    schema = subprocess.run([sys.executable, "-m", "mmo", "profiles", "schema"], cwd=copy, env=env, capture_output=True, text=True, check=True).stdout
    assert "SplitSpec" in schema and '"contains"' in schema and "EchoProviderEntry" in schema


def test_the_command_diff_is_what_ships() -> None:
    command = diffs()[3]
    reversed_cleanly = git_apply(command, REPO, "--check", "--reverse")
    assert reversed_cleanly.returncode == 0, f"docs/EXTENDING.md's command diff no longer matches the code: {reversed_cleanly.stderr}"

"""Where bench runs are kept and how one is found again.

Bench runs live in ``<data dir>/bench/<bench id>/`` (``-o DIR`` puts one elsewhere); ``latest``
in that folder names the newest. A bench id is ``<UTC time>-<task-set stem>``
(``20261204-211500-tasks``): a new one for every ``mmo bench``, so a golden set can be re-tested
and compared with an earlier run; ``--resume [ID]`` continues one.

``find_bench(ref)`` accepts a bench id, ``latest``, a run directory, or a ``results.jsonl`` in one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from mmo.app.bench.results import BenchDir, BenchInfo, Target
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths

LATEST = "latest"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def bench_root(paths: MmoPaths) -> Path:
    return paths.data_dir / "bench"


def new_bench_id(tasks_label: str, now: datetime | None = None) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(tasks_label.removeprefix("builtin:")).name.split(".")[0]).strip("-.") or "tasks"
    return f"{(now or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}-{stem[:40]}"


def find_bench(ref: str, paths: MmoPaths, cwd: Path) -> BenchDir:
    """The bench run ``ref`` names: an id, ``latest``, a directory, or its ``results.jsonl``."""
    root = bench_root(paths)
    candidate = (cwd / ref).expanduser()
    if candidate.is_file() and candidate.name.endswith(".jsonl"):
        candidate = candidate.parent
    if candidate.is_dir() and (candidate / "bench.json").is_file():
        return BenchDir(candidate)
    if ref == LATEST:
        pointer = root / LATEST
        if not pointer.is_file():
            raise ConfigError(f"no bench run yet (nothing in {root}): run `mmo bench TASKS --models ...` first")
        ref = pointer.read_text(encoding="utf-8").strip()
    if _ID.match(ref) and (root / ref / "bench.json").is_file():
        return BenchDir(root / ref)
    known = sorted((p.name for p in root.iterdir() if (p / "bench.json").is_file()), reverse=True)[:5] if root.is_dir() else []
    hint = f"; recent runs: {', '.join(known)}" if known else ""
    raise ConfigError(f"no bench run {ref!r} (a bench id, 'latest', a run directory or its results.jsonl){hint}")


def mark_latest(paths: MmoPaths, bench: BenchDir) -> None:
    root = bench_root(paths)
    if bench.root.parent.resolve() != root.resolve():
        return  # a run kept elsewhere (-o DIR) is not the store's latest
    write_atomically(root / LATEST, bench.root.name + "\n")


def write_info(bench: BenchDir, info: BenchInfo) -> None:
    data = asdict(info)
    data["targets"] = [{"kind": t.kind, "name": t.name} for t in info.targets]
    write_atomically(bench.info_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_info(bench: BenchDir) -> BenchInfo:
    try:
        data = json.loads(bench.info_path.read_text(encoding="utf-8"))
        data["targets"] = tuple(Target(t["kind"], t["name"]) for t in data["targets"])
        return BenchInfo(**data)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{bench.info_path}: not a readable bench run ({type(error).__name__}: {error})") from None


def write_tasks(bench: BenchDir, tasks: Iterable[Mapping[str, Any]]) -> None:
    lines = "".join(json.dumps(task, ensure_ascii=False, separators=(",", ":")) + "\n" for task in tasks)
    write_atomically(bench.tasks_path, lines)


def read_task_lines(bench: BenchDir) -> list[dict[str, Any]]:
    with bench.tasks_path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def write_lock(bench: BenchDir, lock: Mapping[str, Any]) -> None:
    write_atomically(bench.lock_path, json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_lock(bench: BenchDir) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(bench.lock_path.read_text(encoding="utf-8"))
        return found
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigError(f"{bench.lock_path}: not readable ({type(error).__name__}: {error})") from None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (lines) to a temporary file beside ``path`` and rename it over: never half a file."""
    from mmo.app.batch.output import write_lines_atomically

    write_lines_atomically(path, text.rstrip("\n").split("\n") if text else [])


def sha256_of(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""Which run an invocation of ``mmo batch`` belongs to, and where that run's state lives.

A run is identified by a fingerprint over what decides its answers: the input's path and content
hash, the profile (its name and its whole resolved content, so an edited profile is a new run)
and the ``-p`` parameters. Flags that do not change answers (concurrency, the cost cap, the
output path, cache use) are not part of it, so a run can be resumed with a higher ``-c`` or cap.

State lives in ``MmoPaths.data_dir / "batches" / RUN_ID``. Without ``--run-id`` the id is derived
(``in-3f2a9c1b7e0d``): re-running the same command finds the same directory and resumes. When the
input, profile or parameters changed, the fingerprint differs: a new run starts, and the notice
says which of them changed since the last run of that input. ``--run-id NAME`` picks the
directory by name; if that run was made from something else, its state is moved aside (never
deleted) and the run starts anew, again with a notice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Mapping

from mmo.core.errors import ConfigError

RUN_FILE = "run.json"
STDIN_LABEL = "-"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PART_NAMES = {"input": "input path", "content": "input content", "profile": "profile", "params": "parameters"}


@dataclass(frozen=True, slots=True)
class RunIdentity:
    run_id: str
    directory: Path
    fingerprint: str
    parts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunChoice:
    """The run this invocation uses; ``notice`` says why it is new when an older run of the same
    input (or name) exists; ``resumed`` is True when the directory already held this run."""

    identity: RunIdentity
    resumed: bool
    notice: str | None = None


def fingerprint_parts(input_label: str, content_sha256: str, profile: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, str]:
    """Each part as a short hash (the input path as written), for comparing runs."""
    return {
        "input": input_label,
        "content": content_sha256,
        "profile": _hash(profile),
        "params": _hash(params),
    }


def shared_run(content_sha256: str, profile: Mapping[str, Any], params: Mapping[str, Any], *, explicit: str | None) -> tuple[str, str, dict[str, str]]:
    """A run shared by workers on several machines (``--shared``): named by ``--run-id`` or by
    what decides its answers, never by the input's path (which differs across machines).
    Returns its id, fingerprint and parts."""
    parts = {"content": content_sha256, "profile": _hash(profile), "params": _hash(params)}
    fingerprint = _hash(parts)
    if explicit is not None:
        _check_name(explicit)
        return explicit, fingerprint, parts
    return f"run-{fingerprint[:12]}", fingerprint, parts


def choose_run(batches_dir: Path, parts: Mapping[str, str], *, explicit: str | None = None, stem: str = "stdin") -> RunChoice:
    fingerprint = _hash(dict(parts))
    if explicit is not None:
        return _named_run(batches_dir, explicit, fingerprint, parts)
    run_id = f"{_slug(stem)}-{fingerprint[:12]}"
    identity = RunIdentity(run_id, batches_dir / run_id, fingerprint, dict(parts))
    if _stored(identity.directory) is not None:
        return RunChoice(identity, resumed=True)
    return RunChoice(identity, resumed=False, notice=_changed_since(batches_dir, parts, run_id))


def record_run(identity: RunIdentity) -> None:
    """Write ``run.json`` (atomically) once the run's directory is in use."""
    identity.directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "run_id": identity.run_id,
        "fingerprint": identity.fingerprint,
        "parts": dict(identity.parts),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    target = identity.directory / RUN_FILE
    if target.exists():
        return
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)


def _named_run(batches_dir: Path, name: str, fingerprint: str, parts: Mapping[str, str]) -> RunChoice:
    _check_name(name)
    directory = batches_dir / name
    identity = RunIdentity(name, directory, fingerprint, dict(parts))
    stored = _stored(directory)
    if stored is None:
        return RunChoice(identity, resumed=False)
    if stored.get("fingerprint") == fingerprint:
        return RunChoice(identity, resumed=True)
    kept = _set_aside(directory, str(stored.get("fingerprint", "old"))[:8])
    what = differences(stored.get("parts", {}), parts)
    notice = f"the {what} changed since run {name!r} was started: starting it anew (the earlier state is kept in {kept})"
    return RunChoice(identity, resumed=False, notice=notice)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(f"--run-id {name!r}: use letters, digits, '.', '_' and '-' (up to 100, starting with a letter or digit)")


def _changed_since(batches_dir: Path, parts: Mapping[str, str], new_id: str) -> str | None:
    """A notice naming the latest earlier run of the same input file and what changed."""
    if parts.get("input") == STDIN_LABEL or not batches_dir.is_dir():
        return None
    latest: tuple[str, str, Mapping[str, str]] | None = None
    for run_file in batches_dir.glob(f"*/{RUN_FILE}"):
        stored = _read(run_file)
        if stored is None or stored.get("parts", {}).get("input") != parts["input"]:
            continue
        created = str(stored.get("created_at", ""))
        if latest is None or created > latest[0]:
            latest = (created, str(stored.get("run_id", run_file.parent.name)), stored.get("parts", {}))
    if latest is None:
        return None
    what = differences(latest[2], parts)
    return f"the {what} changed since run {latest[1]}: starting a new run {new_id} (resume the old one by restoring what changed)"


def differences(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    changed = [label for key, label in _PART_NAMES.items() if old.get(key) != new.get(key)]
    return " and ".join(changed) or "run"


def _set_aside(directory: Path, tag: str) -> Path:
    for attempt in range(1000):
        target = directory.with_name(f"{directory.name}.{tag}" + (f".{attempt}" if attempt else ""))
        if not target.exists():
            os.replace(directory, target)
            return target
    raise ConfigError(f"cannot set aside the old state of run {directory.name!r}: pick another --run-id")


def _stored(directory: Path) -> dict[str, Any] | None:
    return _read(directory / RUN_FILE)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _slug(stem: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "batch"
    return slug[:40]

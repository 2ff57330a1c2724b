"""The chosen strategy as a profile: what ``mmo tune --name NAME`` (or ``-o FILE``) writes.

The profile names each benchmarked model by an alias (the model's name without its provider, or
the alias the bench used) mapped to the ``provider:model`` that answered in the bench; it declares
the providers the bench's base profile declared for them (a ``replay`` provider reads the bench's
replay data, or what ``--replay-data`` names), and its strategy is the chosen one. A learned
router's model is written beside it as ``NAME.router.json``, a learned gate's as ``NAME.gate.json``
(``NAME.gate-2.json``... for more; JSON; the profile names each by that relative path). A comment at the top says how it was tuned: the bench run and a hash of the data
read, the split, the objective, and the figures on train and test.

Nothing is overwritten without ``force``: without it, a profile or model file already there is an
error naming it, and the files are linked into place only if the name is still free, so two tunes
racing for one name cannot both win. Each file is written whole to a temporary file first.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from mmo.app.bench.tune_data import TuneSet
from mmo.app.bench.tune_sim import Names, SimNode
from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from mmo.providers.replay import BUILTIN_FILES, BUILTIN_PREFIX

ROUTER_SUFFIX = ".router.json"
GATE_SUFFIX = ".gate.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def aliases(model_ids: Mapping[str, str]) -> dict[str, str]:
    """Each model label's alias in the profile: the model's own name where that is unique."""
    short = {label: (label if ":" not in label else label.partition(":")[2]) for label in model_ids}
    taken = list(short.values())
    return {label: alias if taken.count(alias) == 1 else re.sub(r"[^A-Za-z0-9._-]+", "-", label) for label, alias in short.items()}


def profile_data(node: SimNode, tune_set: TuneSet, name: str, *, description: str, replay: str | None, base: Profile | None) -> dict[str, Any]:
    """The profile as plain data (a learned router's model inline)."""
    model_ids = tune_set.train.model_ids
    names: Names = aliases(model_ids)
    used = sorted(node.models(), key=list(model_ids).index)
    models = {names[label]: model_ids[label] for label in used}
    providers = provider_entries({model_ids[label].partition(":")[0] for label in used}, tune_set, replay, base)
    data: dict[str, Any] = {"name": name, "description": description}
    if providers:
        data["providers"] = providers
    data["models"] = models
    data["strategy"] = node.spec(names)
    return data


def provider_entries(names: set[str], tune_set: TuneSet, replay: str | None, base: Profile | None) -> dict[str, Any]:
    """What the profile must declare for these providers: the base profile's declaration (a
    replay provider pointed at the data the bench answered from), or nothing for a built-in one."""
    out: dict[str, Any] = {}
    for name in sorted(names):
        declared = base.providers.get(name) if base is not None else None
        entry = declared.model_dump(mode="json", exclude_defaults=True) | {"kind": declared.kind} if declared is not None else None
        if (entry["kind"] if entry else name) == "replay":
            path = replay or replay_dataset(tune_set.tasks_path) or (entry or {}).get("path")
            if not path:
                raise ConfigError(f"the bench's tasks ({tune_set.tasks_path}) are not replay data: name what its replay models answered from with --replay-data NAME|PATH")
            out[name] = (entry or {"kind": "replay", "key": "none"}) | {"path": path}
        elif entry is not None:
            out[name] = entry
        elif name not in BUILTIN_PROVIDERS:
            raise ConfigError(f"provider {name!r} of the benchmarked models is not a built-in one, and the bench's base profile does not declare it (any more)")
    return out


def replay_dataset(tasks_path: str) -> str | None:
    """The bench's task set when it is replay data (a built-in data set, or a replay file: its
    lines hold ``models``), as a replay ``path``: the recordings the replay models answered from."""
    if tasks_path.startswith(BUILTIN_PREFIX):
        return tasks_path if tasks_path[len(BUILTIN_PREFIX):] in BUILTIN_FILES else None
    path = Path(tasks_path).expanduser()
    try:
        with (gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz") else path.open(encoding="utf-8")) as lines:
            first = json.loads(lines.readline(1 << 24) or "null")
    except (OSError, ValueError, EOFError):
        return None
    return str(path.resolve()) if isinstance(first, dict) and isinstance(first.get("models"), dict) else None


# --- the file --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    profile: Path
    router: Path | None


def target_path(name: str | None, output: str | None, paths: MmoPaths, cwd: Path) -> Path:
    if output is not None:
        path = (cwd / Path(output).expanduser()).resolve()
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise ConfigError(f"-o {output}: a profile file ends in .yaml")
        return path
    if name is None or not _NAME.match(name):
        raise ConfigError(f"--name {name!r}: a profile name is letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit")
    return paths.profiles_dir / f"{name}.yaml"


def write_profile(path: Path, data: Mapping[str, Any], header: Sequence[str], *, force: bool) -> Written:
    """The profile (and its learned router's model beside it) written to ``path``."""
    data = dict(data)
    model = _learned_model(data)
    router = path.with_name(path.stem + ROUTER_SUFFIX) if model is not None else None
    gates: list[tuple[Path, Mapping[str, Any]]] = []
    data["strategy"] = _gate_files(data.get("strategy"), path, gates)
    existing = [p for p in (path, router, *(g for g, _ in gates)) if p is not None and (p.exists() or p.is_symlink())]
    if existing and not force:
        raise ConfigError(f"{existing[0]} already exists: choose another --name, or pass --force to replace it")
    if model is not None and router is not None:
        data["strategy"] = {**data["strategy"], "learned_router": router.name}
    text = "".join(f"# {line}\n" if line else "#\n" for line in header) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if model is not None and router is not None:
            _place(router, json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", force)
        for gate_path, gate_model in gates:
            _place(gate_path, json.dumps(gate_model, ensure_ascii=False, separators=(",", ":")) + "\n", force)
        _place(path, text, force)
    except OSError as error:
        where = error.filename or path
        raise ConfigError(f"cannot write the profile {path}: {where}: {error.strerror or error} (choose another --name or -o FILE)") from None
    return Written(path, router)


def _gate_files(node: Any, path: Path, found: list[tuple[Path, Mapping[str, Any]]]) -> Any:
    """``node`` with each inline learned gate model replaced by the name of the file it is to be
    written to (collected in ``found``), anywhere in the strategy."""
    if isinstance(node, list):
        return [_gate_files(item, path, found) for item in node]
    if not isinstance(node, Mapping):
        return node
    out = {key: _gate_files(value, path, found) for key, value in node.items()}
    learned = out.get("learned")
    if isinstance(learned, Mapping) and isinstance(learned.get("model"), Mapping):
        suffix = GATE_SUFFIX if not found else f".gate-{len(found) + 1}.json"
        target = path.with_name(path.stem + suffix)
        found.append((target, learned["model"]))
        out["learned"] = {**learned, "model": target.name}
    return out


def _learned_model(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    strategy = data.get("strategy")
    model = strategy.get("learned_router") if isinstance(strategy, Mapping) else None
    return model if isinstance(model, Mapping) else None


def _place(path: Path, text: str, force: bool) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    try:
        if force:
            temporary.replace(path)
        else:
            os.link(temporary, path)  # fails when the name was taken meanwhile: never overwrites
    except FileExistsError:
        raise ConfigError(f"{path} already exists: choose another --name, or pass --force to replace it") from None
    finally:
        temporary.unlink(missing_ok=True)


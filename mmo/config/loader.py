"""Finding, reading and checking profiles: the only module that reads YAML.

A profile NAME is looked up in this order, and the first hit wins:

1. an explicit path: anything ending in ``.yaml`` / ``.yml`` or holding a path separator
   (relative paths are taken from the working directory);
2. ``./profiles/NAME.yaml`` in the working directory (a project's own profiles);
3. ``MmoPaths.profiles_dir / NAME.yaml``: the user's config directory (``MMO_HOME`` overrides it);
4. the built-ins shipped in the package, ``mmo/profiles/NAME.yaml``.

Every way a profile can be wrong becomes a ``Problem`` naming the file, the line (and column for
YAML syntax), the key path (``strategy.fallback[1].retry.attempts``) and what was expected.
``check_source`` collects them without raising (for ``mmo profiles validate``); ``load_profile``
raises them as one ``ConfigError``.

A profile file may hold an API key by mistake (the schema refuses key headers), so no message
here ever quotes a string found under ``providers``, and YAML errors are reported from their
marks, never with yaml's own snippet of the offending line.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Literal, Mapping, Sequence, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from mmo.config.models import NODE_SPECS, ModelNodeSpec, NodeSpec, Profile, Spec
from mmo.core.errors import ConfigError, UnknownName
from mmo.core.types import ModelRef
from mmo.providers.catalogue import BUILTIN_PROVIDERS
from mmo.runtime.paths import MmoPaths

if TYPE_CHECKING:
    import yaml

Origin = Literal["path", "project", "user", "builtin"]
KeyPath = tuple[Union[str, int], ...]

PROFILE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
BUILTIN_PACKAGE = "mmo"
BUILTIN_DIR = "profiles"
PROJECT_DIR = "profiles"


# ---- where profiles come from -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileSource:
    """Where one profile lives. ``path`` is set for files on disk, ``resource`` (the file name
    inside ``mmo/profiles``) for built-ins. ``shadowed_by`` is set only by ``list_profiles``:
    the origin of the profile of the same name that wins over this one."""

    name: str
    origin: Origin
    path: Path | None = None
    resource: str | None = None
    shadowed_by: Origin | None = None

    @property
    def location(self) -> str:
        """What messages call this file: its path, or ``mmo/profiles/NAME.yaml`` for a built-in."""
        if self.path is not None:
            return str(self.path)
        return f"{BUILTIN_PACKAGE}/{BUILTIN_DIR}/{self.resource}"

    def read_text(self) -> str:
        try:
            if self.path is not None:
                return self.path.read_text(encoding="utf-8")
            return _builtin_dir().joinpath(self.resource or "").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise ConfigError(f"cannot read profile: {reason}", source=self.location) from None


@dataclass(frozen=True, slots=True)
class LoadedProfile:
    """A validated profile, where it came from, and the YAML text it was read from."""

    profile: Profile
    source: ProfileSource
    text: str = ""


def find_profile(name: str, *, cwd: Path, paths: MmoPaths) -> ProfileSource:
    """The profile ``name`` refers to, by the search order above. Raises ``UnknownName`` with
    close matches when no place has it, ``ConfigError`` when an explicit path does not exist."""
    if looks_like_path(name):
        return _explicit_source(name, cwd)
    for source in _sources_named(name, cwd, paths):
        return source
    known = sorted({source.name for source in list_profiles(cwd=cwd, paths=paths)})
    raise UnknownName("profile", name, known)


def list_profiles(*, cwd: Path, paths: MmoPaths) -> list[ProfileSource]:
    """Every visible profile, sorted by name and then by precedence. A name found in an earlier
    place shadows the same name further down; those later ones carry ``shadowed_by``."""
    winners: dict[str, Origin] = {}
    found: list[ProfileSource] = []
    for source in _all_sources(cwd, paths):  # in precedence order
        if source.name in winners:
            found.append(_shadowed(source, winners[source.name]))
        else:
            winners[source.name] = source.origin
            found.append(source)
    return sorted(found, key=lambda source: source.name)  # stable: precedence within a name


def looks_like_path(name: str) -> bool:
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return name.lower().endswith(PROFILE_SUFFIXES) or any(sep in name for sep in separators)


def _shadowed(source: ProfileSource, winner: Origin) -> ProfileSource:
    return ProfileSource(source.name, source.origin, source.path, source.resource, winner)


def _explicit_source(name: str, cwd: Path) -> ProfileSource:
    path = Path(name).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise ConfigError(f"no such profile file: {path}")
    return ProfileSource(path.stem, "path", path=path)


def _search_dirs(cwd: Path, paths: MmoPaths) -> tuple[tuple[Origin, Path], ...]:
    return (("project", cwd / PROJECT_DIR), ("user", paths.profiles_dir))


def _sources_named(name: str, cwd: Path, paths: MmoPaths) -> Iterator[ProfileSource]:
    if not name:
        return
    for origin, directory in _search_dirs(cwd, paths):
        for suffix in PROFILE_SUFFIXES:
            candidate = directory / f"{name}{suffix}"
            if candidate.is_file():
                yield ProfileSource(name, origin, path=candidate)
    builtins = _builtin_dir()
    for suffix in PROFILE_SUFFIXES:
        if builtins.joinpath(f"{name}{suffix}").is_file():
            yield ProfileSource(name, "builtin", resource=f"{name}{suffix}")


def _all_sources(cwd: Path, paths: MmoPaths) -> Iterator[ProfileSource]:
    for origin, directory in _search_dirs(cwd, paths):
        if directory.is_dir():
            for file in sorted(directory.iterdir(), key=_lookup_order):
                if file.suffix.lower() in PROFILE_SUFFIXES and file.is_file():
                    yield ProfileSource(file.stem, origin, path=file)
    builtins = _builtin_dir()
    if builtins.is_dir():
        for entry in sorted(builtins.iterdir(), key=_lookup_order):
            if entry.name.lower().endswith(PROFILE_SUFFIXES) and entry.is_file():
                yield ProfileSource(entry.name.rsplit(".", 1)[0], "builtin", resource=entry.name)


def _lookup_order(entry: Any) -> tuple[str, bool]:
    # NAME.yaml before NAME.yml, as _sources_named looks them up.
    return (entry.name.rsplit(".", 1)[0], entry.name.lower().endswith(".yml"))


def _builtin_dir() -> Any:
    from importlib.resources import files

    return files(BUILTIN_PACKAGE).joinpath(BUILTIN_DIR)


# ---- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a profile file, as precisely located as we can."""

    file: str
    message: str
    key_path: str = ""
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        return f"{self.where}: {self.key_path}: {self.message}" if self.key_path else f"{self.where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "key_path": self.key_path, "message": self.message}


@dataclass(frozen=True, slots=True)
class ProfileCheck:
    """The outcome of checking one profile file: the profile when it is valid, else problems."""

    source: ProfileSource
    text: str
    profile: Profile | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.profile is not None and not self.problems

    def error(self) -> ConfigError:
        """All the problems as one ``ConfigError`` (one line each, ``file:line: path: message``)."""
        if len(self.problems) == 1:
            problem = self.problems[0]
            detail = f"{problem.key_path}: {problem.message}" if problem.key_path else problem.message
            return ConfigError(detail, source=problem.where)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        return ConfigError(f"{len(self.problems)} problems in profile {self.source.name!r}:\n{lines}", source=self.source.location)


def format_key_path(path: Sequence[str | int]) -> str:
    """``("strategy", "fallback", 1, "retry")`` -> ``strategy.fallback[1].retry``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part and all(c.isalnum() or c in "_-:" for c in part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


# ---- loading ----------------------------------------------------------------------------------


def load_profile(name_or_path: str, *, cwd: Path, paths: MmoPaths) -> LoadedProfile:
    """Find, parse, validate and reference-check a profile; raise one ``ConfigError`` for all
    its problems."""
    source = find_profile(name_or_path, cwd=cwd, paths=paths)
    check = check_source(source)
    if not check.ok or check.profile is None:
        raise check.error()
    return LoadedProfile(check.profile, source, check.text)


def check_source(source: ProfileSource) -> ProfileCheck:
    """Every problem of one profile file, without raising for them."""
    file = source.location
    try:
        text = source.read_text()
    except ConfigError as error:
        return ProfileCheck(source, "", None, (Problem(file, error.message.removeprefix(f"{file}: ")),))
    data, lines, problems, parsed = _parse_yaml(text, file)
    if not parsed:
        return ProfileCheck(source, text, None, tuple(problems))
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {_yaml_type(data)}"
        return ProfileCheck(source, text, None, (Problem(file, f"expected a mapping of profile keys (name, models, strategy, ...), got {got}", line=1),))
    if "name" not in data:
        # The file's stem names the profile unless it says otherwise.
        data = {"name": source.name, **data}
    try:
        profile = Profile.model_validate(data)
    except ValidationError as error:
        return ProfileCheck(source, text, None, _in_file_order(problems + _schema_problems(error, file, lines)))
    problems += [Problem(file, message, format_key_path(path), _line_of(path, lines)) for path, message in reference_problems(profile)]
    return ProfileCheck(source, text, None if problems else profile, _in_file_order(problems))


def _in_file_order(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(problems, key=lambda problem: problem.line or 0))


def _parse_yaml(text: str, file: str) -> tuple[Any, dict[KeyPath, int], list[Problem], bool]:
    """The YAML document, a map from key path to the line of that key, the problems found
    (duplicate keys, or the syntax error), and whether the text parsed at all."""
    import yaml

    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None, {}, [], True
        lines: dict[KeyPath, int] = {}
        duplicates: list[Problem] = []
        # The node tree is walked before construction, which flattens `<<` merge keys in place.
        _index_nodes(root, (), lines, duplicates, file, set())
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        return None, {}, [_yaml_problem(error, file)], False
    except yaml.YAMLError as error:
        return None, {}, [Problem(file, f"invalid YAML: {error}")], False
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines, duplicates, True


def _yaml_problem(error: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = f"invalid YAML: {error.problem or error.context or 'cannot parse'}"
    if error.context and error.problem and error.context_mark is not None:
        message += f" ({error.context} at line {error.context_mark.line + 1})"
    if mark is None:
        return Problem(file, message)
    return Problem(file, message, line=mark.line + 1, column=mark.column + 1)


def _index_nodes(node: Any, path: KeyPath, lines: dict[KeyPath, int], problems: list[Problem], file: str, active: set[int]) -> None:
    import yaml

    if id(node) in active:  # a recursive alias
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in first_seen and key != "<<":
                problems.append(Problem(file, f"duplicate key {key!r} (first at line {first_seen[key]})", format_key_path((*path, key)), line))
            first_seen.setdefault(key, line)
            lines.setdefault((*path, key), line)
            _index_nodes(value_node, (*path, key), lines, problems, file, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*path, index), item.start_mark.line + 1)
            _index_nodes(item, (*path, index), lines, problems, file, active)
    active.discard(id(node))


def _line_of(path: KeyPath, lines: Mapping[KeyPath, int]) -> int | None:
    """The line of ``path``, or of its nearest ancestor in the file (a missing key's parent)."""
    for end in range(len(path), 0, -1):
        key = tuple(part if isinstance(part, int) else str(part) for part in path[:end])
        if key in lines:
            return lines[key]
    return None


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


# ---- schema problems: pydantic errors, described in the user's terms ----------------------------


@dataclass(frozen=True, slots=True)
class _Located:
    """A pydantic error location turned into the key path the user wrote."""

    path: KeyPath
    ends_at_union_member: bool  # a whole union member was refused (e.g. "not a string")
    parent_model: type[BaseModel] | None  # where the last key was looked up


def _schema_problems(error: ValidationError, file: str, lines: Mapping[KeyPath, int]) -> list[Problem]:
    located = [(_locate(item["loc"]), item) for item in error.errors()]
    # A smart union (``str | ModelEntry``) reports every member it tried. When some member went
    # deeper into the value, the members refused outright are noise; when none did, they merge
    # into one "expected X or Y".
    deeper = {loc.path for loc, _ in located if not loc.ends_at_union_member}
    problems: list[Problem] = []
    merged: dict[KeyPath, list[tuple[_Located, Any]]] = {}
    for loc, item in located:
        if loc.ends_at_union_member:
            if not any(other[: len(loc.path)] == loc.path for other in deeper):
                merged.setdefault(loc.path, []).append((loc, item))
            continue
        problems.append(Problem(file, _describe(loc, item), format_key_path(loc.path), _line_of(loc.path, lines)))
    for path, items in merged.items():
        expected = " or ".join(_expectation(item["msg"]) for _, item in items)
        message = f"expected {expected}{_got(items[0][1]['input'], path)}"
        problems.append(Problem(file, message, format_key_path(path), _line_of(path, lines)))
    return problems


def _locate(loc: tuple[str | int, ...]) -> _Located:
    """Drop pydantic's union tags from ``loc`` by walking the schema's types alongside it."""
    current: Any = Profile
    path: list[str | int] = []
    ended_at_member = False
    parent: type[BaseModel] | None = None
    for segment in loc:
        ended_at_member = False
        current = _unwrap(current)
        members = _union_members(current)
        if members is not None:
            if segment in members:
                current, ended_at_member = members[segment], True
                continue
            current = Any
        if segment == "[key]":
            continue
        path.append(segment)
        if isinstance(current, type) and issubclass(current, BaseModel):
            parent = current
            field = current.model_fields.get(str(segment))
            current = field.annotation if field is not None else Any
        else:
            parent = None
            origin, args = get_origin(current), get_args(current)
            if origin in (dict, Mapping) and len(args) == 2:
                current = args[1]
            elif origin in (list, tuple, Sequence) and args:
                current = args[0]
            else:
                current = Any
    return _Located(tuple(path), ended_at_member, parent)


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` -> X and ``X | None`` -> X, repeatedly."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if _is_union(tp):
            rest = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _union_members(tp: Any) -> dict[str | int, Any] | None:
    """Tag -> member type for a union, as pydantic names members in error locations."""
    if not _is_union(tp):
        return None
    members: dict[str | int, Any] = {}
    for arg in get_args(tp):
        if get_origin(arg) is Annotated:
            inner, *metadata = get_args(arg)
            tag = next((m.tag for m in metadata if isinstance(m, Tag)), None)
            members[tag or getattr(inner, "__name__", str(inner))] = inner
        elif arg is not type(None):
            members[getattr(arg, "__name__", str(arg))] = arg
    return members


def _describe(loc: _Located, item: Mapping[str, Any]) -> str:
    kind, message, value = item["type"], item["msg"], item.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return _unknown_key(str(loc.path[-1]), loc.parent_model)
    if kind == "unknown_strategy":
        return _unknown_node(value)
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        hint = _key_hint(loc.path) if kind == "literal_error" else ""
        return f"expected {_expectation(message)}{_got(value, loc.path)}{hint}"
    return f"{message}{_got(value, loc.path)}"


def _expectation(message: str) -> str:
    """pydantic's "Input should be a valid integer" -> "an integer", in YAML's words."""
    text = message.removeprefix("Input should be ")
    if text.startswith("a valid dictionary or instance of "):
        return f"a mapping ({text.removeprefix('a valid dictionary or instance of ')})"
    text = text.replace("a valid dictionary", "a mapping").replace("a valid ", "a ")
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def _got(value: Any, path: KeyPath) -> str:
    if isinstance(value, bool):
        return f", got {'true' if value else 'false'}"
    if value is None:
        return ", got null"
    if isinstance(value, (int, float)):
        return f", got {value!r}"
    if isinstance(value, str):
        # Strings under providers may be secrets a user pasted into the wrong key.
        if path[:1] == ("providers",) or len(value) > 60:
            return ", got a string"
        return f", got {value!r}"
    return f", got a {_yaml_type(value)}"


def _key_hint(path: KeyPath) -> str:
    if len(path) == 3 and path[0] == "providers" and path[2] == "key":
        return f" (keys never go in a profile: run `mmo keys set {path[1]}` or name a variable in key_env)"
    return ""


def _unknown_key(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return f"unknown key {key!r}"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; expected one of: {', '.join(allowed)}"


def _unknown_node(value: Any) -> str:
    kinds = list(NODE_SPECS)
    expected = f"expected a model alias, a provider:model, or a mapping with one of the keys: {', '.join(kinds)}"
    if isinstance(value, dict):
        keys = [str(key) for key in value]
        close = next((match for key in keys for match in difflib.get_close_matches(key, kinds, n=1, cutoff=0.6)), None)
        hint = f"; did you mean {close!r}?" if close else ""
        return f"{expected}; got a mapping with keys: {', '.join(keys) or '(none)'}{hint}"
    return f"{expected}; got a {_yaml_type(value)}"


# ---- references: aliases, providers and models the profile names --------------------------------


def check_references(profile: Profile) -> list[str]:
    """Every dangling name in a valid profile, as ``key.path: message`` lines."""
    return [f"{format_key_path(path)}: {message}" for path, message in reference_problems(profile)]


def reference_problems(profile: Profile) -> list[tuple[KeyPath, str]]:
    """(key path, message) for each model, strategy reference or limit that names nothing known."""
    providers = sorted({*BUILTIN_PROVIDERS, *profile.providers})
    aliases = list(profile.models)
    problems: list[tuple[KeyPath, str]] = []
    for alias, entry in profile.models.items():
        model_id = entry if isinstance(entry, str) else entry.model
        path: KeyPath = ("models", alias) if isinstance(entry, str) else ("models", alias, "model")
        message = _model_id_problem(model_id, providers)
        if message:
            problems.append((path, message))
    for path, reference in strategy_references(profile):
        message = _reference_problem(reference, aliases, providers)
        if message:
            problems.append((path, message))
    for key in profile.limits:
        message = _reference_problem(key, aliases, providers)
        if message:
            problems.append((("limits", key), message))
    return problems


def strategy_references(profile: Profile) -> list[tuple[KeyPath, str]]:
    """(key path, reference) for every model reference in the profile's node specs, found by
    walking each field whose type holds nodes, so new strategy kinds need no change here."""
    return list(_walk_refs(profile, Profile, ()))


_NODE_UNION = get_args(NodeSpec)[0]


def _is_node_type(tp: Any) -> bool:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if tp == _NODE_UNION:
        return True
    return _is_union(tp) and any(_is_node_type(arg) for arg in get_args(tp) if arg is not type(None))


def _walk_refs(value: Any, tp: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if value is None:
        return
    if _is_node_type(tp) and isinstance(value, str):
        yield path, value
        return
    if isinstance(value, ModelNodeSpec) and _is_node_type(tp):
        yield (*path, "model"), value.model
    if isinstance(value, Spec):
        for name, field in type(value).model_fields.items():
            yield from _walk_refs(getattr(value, name), field.annotation, (*path, name))
        return
    inner = _unwrap(tp)
    origin, args = get_origin(inner), get_args(inner)
    if isinstance(value, Mapping):
        item_type = args[1] if origin in (dict, Mapping) and len(args) == 2 else Any
        for key, item in value.items():
            yield from _walk_refs(item, item_type, (*path, key))
    elif isinstance(value, (list, tuple)):
        item_type = args[0] if origin in (list, tuple, Sequence) and args else Any
        for index, item in enumerate(value):
            yield from _walk_refs(item, item_type, (*path, index))


def _reference_problem(reference: str, aliases: list[str], providers: list[str]) -> str | None:
    """None when ``reference`` is an alias or a provider:model with a known provider."""
    if reference in aliases:
        return None
    if ":" in reference:
        return _model_id_problem(reference, providers)
    message = f"unknown model {reference!r}: neither an alias from `models:` nor provider:model"
    return message + _close_or_known(UnknownName("model alias", reference, aliases), aliases, "aliases")


def _model_id_problem(model_id: str, providers: list[str]) -> str | None:
    try:
        ref = ModelRef.parse(model_id)
    except ValueError:
        return f"expected provider:model (e.g. openai:gpt-5-mini), got {model_id!r}"
    if ref.provider in providers:
        return None
    message = f"unknown provider {ref.provider!r} in {model_id!r}"
    hint = _close_or_known(UnknownName("provider", ref.provider, providers), providers, "providers")
    return f"{message}{hint} (declare others under `providers:`)"


def _close_or_known(unknown: UnknownName, known: list[str], what: str) -> str:
    if unknown.suggestions:
        return f"; did you mean {', '.join(repr(s) for s in unknown.suggestions)}?"
    return f"; known {what}: {', '.join(known)}" if known else ""


# ---- JSON Schema for editors --------------------------------------------------------------------


def profile_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a profile file, for editors and `mmo profiles schema`."""
    schema = Profile.model_json_schema()
    # The loader defaults `name` to the file's stem, so a file without it is valid.
    schema["required"] = [key for key in schema.get("required", []) if key != "name"]
    name = dict(schema["properties"]["name"])
    name["description"] = "the profile's name; defaults to the file name without .yaml"
    schema["properties"]["name"] = name
    schema.pop("title", None)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "mmo profile", **schema}

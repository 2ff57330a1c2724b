"""Loading and checking a profile: the front door of ``mmo.config``.

``load_profile`` finds a profile (the search order is in ``search.py``), parses it
(``yaml_lines.py``, which bounds size and alias expansion), validates it against the schema
(``schema.py``; pydantic's errors are put in the user's terms by ``schema_problems.py``), checks
the names it refers to (``references.py``) and where it would send keys (``key_policy.py``), and
builds its strategy tree as a run would (``tree_check.py``). Every way a profile can be wrong
becomes a ``Problem``: ``check_source`` collects them without raising (for ``mmo profiles
validate``); ``load_profile`` raises them as one ``ConfigError``. A profile that passed every check
is remembered (``profile_cache.py``): ``load_profile`` reads it back instead of parsing and
validating it again, and still builds its tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from mmo.config.key_policy import key_policy_problems
from mmo.config.problems import KeyPath, Problem, format_key_path
from mmo.config.references import reference_problems
from mmo.config.schema import Profile
from mmo.config.schema_problems import schema_problems
from mmo.config.search import ProfileSource, find_profile, list_profiles
from mmo.config.tree_check import build_problems
from mmo.config.yaml_lines import line_of, parse_yaml, yaml_type
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths

# The names other modules import from here; each lives in the module that owns its concept.
__all__ = [
    "LoadedProfile",
    "Problem",
    "ProfileCheck",
    "ProfileSource",
    "check_source",
    "find_profile",
    "list_profiles",
    "load_profile",
    "profile_json_schema",
]


@dataclass(frozen=True, slots=True)
class LoadedProfile:
    """A validated profile, where it came from, and the YAML text it was read from."""

    profile: Profile
    source: ProfileSource
    text: str = ""


@dataclass(frozen=True, slots=True)
class ProfileCheck:
    """The outcome of checking one profile file: the profile when it is valid, else problems."""

    source: ProfileSource
    text: str
    profile: Profile | None
    problems: tuple[Problem, ...]
    lines: Mapping[KeyPath, int] = field(default_factory=dict)  # the line of each key path

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


def load_profile(name_or_path: str, *, cwd: Path, paths: MmoPaths) -> LoadedProfile:
    """Find, parse, validate and reference-check a profile; raise one ``ConfigError`` for all
    its problems. A profile that passed before is taken from the profile cache
    (``profile_cache.py``) instead of parsed and validated again; its tree is still built, as
    that may read other files."""
    from mmo.config.profile_cache import ProfileCache

    source = find_profile(name_or_path, cwd=cwd, paths=paths)
    cache = ProfileCache(paths.profile_cache_dir)
    try:
        text = source.read_text()
    except ConfigError:
        text = None  # check_source says why, as for any other problem
    if text is not None:
        remembered = cache.get(source, text)
        if remembered is not None and not build_problems(remembered):
            return LoadedProfile(remembered, source, text)
    check = check_source(source, text)
    if not check.ok or check.profile is None:
        raise check.error()
    cache.put(source, check.text, check.profile)
    return LoadedProfile(check.profile, source, check.text)


def check_source(source: ProfileSource, text: str | None = None) -> ProfileCheck:
    """Every problem of one profile file, without raising for them (``text``: the file's text,
    when the caller has read it already)."""
    file = source.location
    try:
        text = source.read_text() if text is None else text
    except ConfigError as error:
        return ProfileCheck(source, "", None, (Problem(file, error.message.removeprefix(f"{file}: ")),))
    parsed = parse_yaml(text, file)
    if not parsed.parsed:
        return ProfileCheck(source, text, None, parsed.problems)
    data, lines, problems = parsed.data, parsed.lines, list(parsed.problems)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {yaml_type(data)}"
        return ProfileCheck(source, text, None, (Problem(file, f"expected a mapping of profile keys (name, models, strategy, ...), got {got}", line=1),))
    if "name" not in data:
        # The file's stem names the profile unless it says otherwise.
        data = {"name": source.name, **data}
    try:
        profile = Profile.model_validate(data, context=_context(source))
    except ValidationError as error:
        return ProfileCheck(source, text, None, _in_file_order(problems + schema_problems(error, file, lines)))
    found = reference_problems(profile) + key_policy_problems(profile)
    if not found and not problems:  # a tree with a dangling name cannot be built
        found = build_problems(profile)
    problems += [Problem(file, message, format_key_path(path), line_of(path, lines)) for path, message in found]
    return ProfileCheck(source, text, None if problems else profile, _in_file_order(problems), lines)


def _context(source: ProfileSource) -> dict[str, Any]:
    """What validation needs to know of the file: its directory, against which a learned
    router's relative model path is read (``mmo.strategies.learned_router``)."""
    from mmo.strategies.learned_router import PROFILE_DIR

    return {PROFILE_DIR: source.path.parent} if source.path is not None else {}


def _in_file_order(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(problems, key=lambda problem: problem.line or 0))


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

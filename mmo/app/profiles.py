"""The `mmo profiles` use cases: list, show, validate and export the schema. Plain data out; the
command line renders it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from mmo.app.readiness import readiness_warnings
from mmo.config.loader import (
    Problem,
    ProfileCheck,
    ProfileSource,
    check_source,
    find_profile,
    list_profiles,
    load_profile,
    profile_json_schema,
)
from mmo.config.schema import Profile
from mmo.config.search import shadow_notice
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """One row of `mmo profiles list`. ``shadowed_by`` names the origin whose profile of the
    same name is used instead; ``problem`` is the first thing wrong with an invalid file."""

    name: str
    origin: str
    location: str
    description: str
    shadowed_by: str | None
    problem: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "origin": self.origin,
            "path": self.location,
            "description": self.description,
            "shadowed_by": self.shadowed_by,
            "valid": self.problem is None,
            "problem": self.problem,
        }


@dataclass(frozen=True, slots=True)
class ProfileView:
    """A profile as `mmo profiles show` presents it: resolved, with its source and raw text."""

    name: str
    origin: str
    location: str
    resolved: dict[str, Any]
    yaml_text: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "origin": self.origin, "path": self.location, "profile": self.resolved, "yaml": self.yaml_text}


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of `mmo profiles validate`: the profile when valid, else every problem; and
    what a valid one still lacks here (``mmo.app.readiness``), as warnings."""

    target: str
    location: str | None
    profile: Profile | None
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.profile is not None and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "path": self.location,
            "valid": self.ok,
            "name": self.profile.name if self.profile else None,
            "problems": [problem.to_dict() for problem in self.problems],
            "warnings": [warning.to_dict() for warning in self.warnings],
        }


def _where(cwd: Path | None, paths: MmoPaths | None) -> tuple[Path, MmoPaths]:
    return (cwd or Path.cwd(), paths or MmoPaths.from_env())


def summaries(*, cwd: Path | None = None, paths: MmoPaths | None = None) -> list[ProfileSummary]:
    """Every visible profile, shadowed ones included, each checked so broken files stand out."""
    cwd, paths = _where(cwd, paths)
    return [_summary(source) for source in list_profiles(cwd=cwd, paths=paths)]


def _summary(source: ProfileSource) -> ProfileSummary:
    check = check_source(source)
    problem = str(check.problems[0]) if check.problems else None
    description = check.profile.description if check.profile else _raw_description(check)
    return ProfileSummary(source.name, source.origin, source.location, description, source.shadowed_by, problem)


def _raw_description(check: ProfileCheck) -> str:
    # An invalid profile still shows its description when the YAML itself parses.
    import yaml

    try:
        data = yaml.safe_load(check.text)
    except yaml.YAMLError:
        return ""
    value = data.get("description") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def show(name_or_path: str, *, cwd: Path | None = None, paths: MmoPaths | None = None) -> ProfileView:
    """The profile with every default filled in, where it was found, and its YAML text.
    Raises ``ConfigError`` (``UnknownName`` with close matches) when it is missing or invalid."""
    cwd, paths = _where(cwd, paths)
    loaded = load_profile(name_or_path, cwd=cwd, paths=paths)
    resolved = loaded.profile.model_dump(mode="json", exclude_none=True)
    source = loaded.source
    return ProfileView(loaded.profile.name, source.origin, source.location, resolved, loaded.text)


def validate(
    name_or_path: str, *, cwd: Path | None = None, paths: MmoPaths | None = None, environ: Mapping[str, str] | None = None
) -> Validation:
    """Every problem of one profile file (or named profile), without raising for them: the same
    checks and tree build as a run, without keys or network; and, when it is valid, warnings
    for what it lacks on this machine (keys, prices) and for a project profile hiding another."""
    cwd, paths = _where(cwd, paths)
    try:
        source = find_profile(name_or_path, cwd=cwd, paths=paths)
    except ConfigError as error:
        return Validation(name_or_path, None, None, (Problem(name_or_path, error.message),))
    check = check_source(source)
    shadow = shadow_notice(source)
    warnings = [Problem(source.location, shadow)] if shadow else []
    if check.ok:
        warnings += readiness_warnings(check, os.environ if environ is None else environ, paths)
    return Validation(name_or_path, source.location, check.profile, check.problems, tuple(warnings))


def schema() -> dict[str, Any]:
    """The JSON Schema of a profile file."""
    return profile_json_schema()

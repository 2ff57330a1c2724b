"""Finding profiles by name. A profile NAME is looked up in this order, and the first hit wins:

1. an explicit path: anything ending in ``.yaml`` / ``.yml`` or holding a path separator
   (relative paths are taken from the working directory);
2. ``./profiles/NAME.yaml`` in the working directory (a project's own profiles);
3. ``MmoPaths.profiles_dir / NAME.yaml``: the user's config directory (``MMO_HOME`` overrides it);
4. the built-ins shipped in the package, ``mmo/profiles/NAME.yaml``.

A project's profile is code someone else may have written (a cloned repository's ``./profiles``):
when one hides a profile of the same name from the user's directory or the built-ins, the
profile found says so (``ProfileSource.shadows``), and the commands warn on standard error.

A profile file is at most ``MAX_PROFILE_BYTES`` (1 MiB): only that much is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Literal

from mmo.core.errors import ConfigError, UnknownName
from mmo.core.paths import MmoPaths

Origin = Literal["path", "project", "user", "builtin"]

PROFILE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
BUILTIN_PACKAGE = "mmo"
BUILTIN_DIR = "profiles"
PROJECT_DIR = "profiles"
MAX_PROFILE_BYTES = 1024 * 1024  # profiles are a few KiB; a bigger file is a mistake or an attack


@dataclass(frozen=True, slots=True)
class ProfileSource:
    """Where one profile lives. ``path`` is set for files on disk, ``resource`` (the file name
    inside ``mmo/profiles``) for built-ins. ``shadowed_by`` is set only by ``list_profiles``:
    the origin of the profile of the same name that wins over this one. ``shadows`` is set only
    by ``find_profile``, for a project's profile: the profile of the same name it hides."""

    name: str
    origin: Origin
    path: Path | None = None
    resource: str | None = None
    shadowed_by: Origin | None = None
    shadows: ProfileSource | None = None

    @property
    def location(self) -> str:
        """What messages call this file: its path, or ``mmo/profiles/NAME.yaml`` for a built-in."""
        if self.path is not None:
            return str(self.path)
        return f"{BUILTIN_PACKAGE}/{BUILTIN_DIR}/{self.resource}"

    def read_text(self) -> str:
        """The file's text; refuses a file over ``MAX_PROFILE_BYTES`` without reading the rest."""
        try:
            if self.path is not None:
                with self.path.open("rb") as file:
                    data = file.read(MAX_PROFILE_BYTES + 1)
            else:
                data = _builtin_dir().joinpath(self.resource or "").read_bytes()
            if len(data) > MAX_PROFILE_BYTES:
                raise ConfigError(
                    f"profile file is larger than {MAX_PROFILE_BYTES // 1024} KiB: not a profile (is this the right file?)", source=self.location
                )
            return data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise ConfigError(f"cannot read profile: {reason}", source=self.location) from None


def find_profile(name: str, *, cwd: Path, paths: MmoPaths) -> ProfileSource:
    """The profile ``name`` refers to, by the search order above. Raises ``UnknownName`` with
    close matches when no place has it, ``ConfigError`` when an explicit path does not exist."""
    if looks_like_path(name):
        return _explicit_source(name, cwd)
    sources = _sources_named(name, cwd, paths)
    for source in sources:
        if source.origin == "project":
            hidden = next((other for other in sources if other.origin != "project"), None)
            return source if hidden is None else replace(source, shadows=hidden)
        return source
    known = sorted({source.name for source in list_profiles(cwd=cwd, paths=paths)})
    raise UnknownName("profile", name, known)


def shadow_notice(source: ProfileSource) -> str | None:
    """What to tell the user when a project's profile hides one of the same name: both files."""
    hidden = source.shadows
    if hidden is None:
        return None
    where = "built-in" if hidden.origin == "builtin" else "user"
    return (
        f"profile {source.name!r} is {source.location} from this directory's ./profiles, which hides the {where} "
        f"profile {hidden.location}: check what it runs and where it sends your keys, or rename it"
    )


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

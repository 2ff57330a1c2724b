"""Validated profiles remembered on disk, so that running a profile does not build its schema.

Validating a profile builds the pydantic schema of every strategy and provider kind first (30-40
ms, about a tenth of ``mmo ask``'s start-up) and parses its YAML. What validation makes of a
profile depends only on its text, its name and directory, and mmo's own code, so a profile that
passed every check is kept (pickled) in ``CACHE_DIR/profiles``, under a key made of exactly those:

* the profile's text, its name and its location;
* mmo's version and a stamp of its source files (path, size and modification time of every
  ``.py`` file in the package: an edited or upgraded mmo never reads an old entry), pydantic's
  version and Python's.

Anything else reads the profile afresh: a missing, unreadable or corrupt entry, or one another
user could have written (a file not owned by the current user, or writable by others). Entries
are written owner-only (0600) and renamed into place. A profile holds no key (a profile cannot
contain one), so none is ever written here; a profile whose providers send headers (whose values,
a tenant or a deployment, may be secrets) or put credentials in a base URL is never remembered. What a profile's strategy reads from other files (a
learned router's model, a JSON Schema file) is read when its tree is built, which
``load_profile`` still does for a remembered profile.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mmo._version import __version__

if TYPE_CHECKING:
    from mmo.config.schema import Profile
    from mmo.config.search import ProfileSource

FORMAT = 1  # bump when what is pickled changes shape
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


class ProfileCache:
    """Validated profiles in one directory, one file per key. A file is named after its profile's
    place, then its key: writing a profile's entry removes that place's older ones (an edited
    profile leaves no trail)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def get(self, source: ProfileSource, text: str) -> Profile | None:
        """The remembered profile for this text at this place, or ``None``."""
        from mmo.config.schema import Profile

        path = self._path(source, text)
        try:
            with path.open("rb") as file:
                if not _trusted(os.fstat(file.fileno())):
                    return None
                loaded = pickle.load(file)  # our own file, owner-only: checked above
        except Exception:  # a damaged entry of any kind: the profile is read afresh
            return None
        return loaded if isinstance(loaded, Profile) else None

    def put(self, source: ProfileSource, text: str, profile: Profile) -> None:
        """Remember a valid profile; a cache directory that cannot be written is no error."""
        if _may_hold_a_secret(profile):
            return
        path = self._path(source, text)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".profile-", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    pickle.dump(profile, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            return
        self._forget_older(path)

    def _forget_older(self, kept: Path) -> None:
        place = kept.name.split("-", 1)[0]
        try:
            for old in self._directory.glob(f"{place}-*.pickle"):
                if old != kept:
                    old.unlink(missing_ok=True)
        except OSError:
            return  # another process's rename or a read-only file: left for next time

    def _path(self, source: ProfileSource, text: str) -> Path:
        parts = (str(FORMAT), __version__, code_stamp(), _pydantic_version(), sys.version, source.location, source.name, text)
        key = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        place = hashlib.sha256(f"{source.location}\0{source.name}".encode("utf-8", "surrogatepass")).hexdigest()
        return self._directory / f"{place[:16]}-{key[:32]}.pickle"


def _may_hold_a_secret(profile: Profile) -> bool:
    return any(entry.headers or "@" in (entry.base_url or "") for entry in profile.providers.values())


def _trusted(stat: os.stat_result) -> bool:
    """Written by this user, and by no one else since."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return True  # Windows: the user's cache directory is private to them
    return stat.st_uid == getuid() and not stat.st_mode & 0o022


def code_stamp() -> str:
    """A digest of where, how large and how recent every source file of the mmo package is."""
    found: list[str] = []
    _stamp_dir(_PACKAGE_DIR, found)
    return hashlib.sha256("\n".join(sorted(found)).encode("utf-8", "surrogatepass")).hexdigest()


def _stamp_dir(directory: Path | str, found: list[str]) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    _stamp_dir(entry.path, found)
            elif entry.name.endswith(".py"):
                stat = entry.stat()
                found.append(f"{entry.path}\0{stat.st_size}\0{stat.st_mtime_ns}")


def _pydantic_version() -> str:
    import pydantic

    return str(pydantic.VERSION)

"""The opt-in key file: API keys in plain text on disk, for machines without a keyring backend,
as ``gh`` keeps its token in ``hosts.yml``. Used only when the user asks for it (``mmo keys set
--key-file`` or ``mmo config set key_file true``), never as a silent fallback.

The file is ``keys.json`` in the user config directory, readable by its owner only (0600, in a
0700 directory). It is written whole to a new 0600 file beside it and renamed over it, so no
reader ever sees half a file or wider permissions. A file that is a symbolic link, not a regular
file, owned by someone else or readable by group or others is refused (read or write), naming the
fix: a key file others could read or swap is not one to trust or feed.

Values are never shown: errors name the file and the provider, never a key.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Mapping

from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths

KEY_FILE_NAME = "keys.json"
KEY_FILE_LABEL = "plain text on disk"


def key_file_path(environ: Mapping[str, str]) -> Path:
    return MmoPaths.from_env(environ).config_dir / KEY_FILE_NAME


class KeyFile:
    """Reads and writes the key file at ``path``; every access checks its type and permissions."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def label(self) -> str:
        return f"key file {self.path} ({KEY_FILE_LABEL})"

    def read(self) -> dict[str, str]:
        """The stored keys; empty when there is no file."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO must not block the read
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise self._refused("is a symbolic link" if os.path.islink(self.path) else f"cannot be opened ({error.strerror})") from None
        with os.fdopen(fd, "rb") as file:
            self._check(os.fstat(file.fileno()))
            data = file.read(1024 * 1024)
        try:
            keys = json.loads(data.decode("utf-8")) if data.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise self._refused("is not a JSON object of provider: key (edit or delete it)") from None
        if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
            raise self._refused("is not a JSON object of provider: key (edit or delete it)")
        return keys

    def get(self, provider: str) -> str | None:
        return self.read().get(provider) or None

    def set(self, provider: str, value: str) -> None:
        keys = self.read()
        keys[provider] = value
        self._write(keys)

    def delete(self, provider: str) -> bool:
        keys = self.read()
        if provider not in keys:
            return False
        del keys[provider]
        self._write(keys)
        return True

    def _check(self, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise self._refused("is not a regular file")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise self._refused("belongs to another user")
        if info.st_mode & 0o077:
            raise self._refused(f"is readable or writable by others (mode {stat.S_IMODE(info.st_mode):o}); run `chmod 600 {self.path}`")

    def _refused(self, why: str) -> ConfigError:
        return ConfigError(f"refusing to use the key file: it {why}", source=str(self.path))

    def _write(self, keys: dict[str, str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(dict(sorted(keys.items())), file, indent=2)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

"""The user's defaults, set without editing a profile: ``mmo config show|set|unset``.

They live in ``config.toml`` in the user config directory (``$MMO_HOME/config`` or the XDG /
platform config dir; ``mmo paths`` shows it). Each default yields to its environment variable,
which yields to the command-line flag:

================  ==================  ======================================================
key               variable            meaning
================  ==================  ======================================================
``profile``       ``MMO_PROFILE``     the profile commands run when no ``--profile`` is given
``model``         ``MMO_MODEL``       one model (``provider:model``) run when no profile is
                                      chosen at all (instead of the ``default`` profile)
``concurrency``   ``MMO_CONCURRENCY`` ``mmo batch`` rows in flight (``--concurrency``; 16)
``key_file``      ``MMO_KEY_FILE``    ``true``: ``mmo keys set`` stores keys in the plain-text
                                      key file (``--key-file``; ``mmo.runtime.key_file``)
``state``         ``MMO_STATE_URL``   a Redis URL (``redis://``, ``rediss://``, ``unix://``): per-model
                                      rpm / tpm limits and pauses shared by every process
                                      (``mmo.runtime.shared_limits``; never in a profile)
``output``        ``MMO_OUTPUT``      how ``mmo ask`` shows a result when no ``--quiet``,
                                      ``--json`` or ``--explain`` is given: ``table`` (the
                                      answer, then the table; the default), ``quiet``, ``json``
                                      or ``explain``
================  ==================  ======================================================

The file is written whole to a temporary file beside it and renamed over it, so a crash never
leaves half a file. A file that is not valid TOML, an unknown key or a wrong value is a
``ConfigError`` naming ``file:line`` and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mmo.app.settings import AppEnv
from mmo.core.errors import ConfigError, UnknownName

CONFIG_FILE = "config.toml"
DEFAULT_CONCURRENCY = 16
OUTPUT_STYLES = ("table", "quiet", "json", "explain")
STATE_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True, slots=True)
class Setting:
    """One key of the file: its environment variable and what its value must be."""

    key: str
    env_var: str
    kind: type  # str, int or bool
    help: str
    choices: tuple[str, ...] = ()  # a text setting's allowed values (none: any text)


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("profile", "MMO_PROFILE", str, "profile to run when no --profile is given"),
        Setting("model", "MMO_MODEL", str, "provider:model to run when no profile is chosen"),
        Setting("concurrency", "MMO_CONCURRENCY", int, "mmo batch rows in flight (at least 1)"),
        Setting("key_file", "MMO_KEY_FILE", bool, "true: mmo keys set stores keys in a plain-text file"),
        Setting("state", "MMO_STATE_URL", str, "redis://HOST:PORT/DB: rate limits shared by every process (mmo[redis])"),
        Setting("output", "MMO_OUTPUT", str, "mmo ask's output without a flag: table, quiet, json or explain", OUTPUT_STYLES),
    )
}


_BOOLEANS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}


def config_path(env: AppEnv) -> Path:
    return env.paths.config_dir / CONFIG_FILE


def load_config(env: AppEnv) -> dict[str, str | int]:
    """The file's settings (empty when there is no file); raises ``ConfigError`` naming file:line."""
    path = config_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the config file: {error}", source=str(path)) from None
    import tomllib  # only for a file there is (its import compiles regular expressions: ~2 ms)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        import re

        # Python 3.11's TOMLDecodeError has no lineno attribute; its message ends "(at line N, column M)".
        line = re.search(r"at line (\d+)", str(error))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError(f"not valid TOML ({error}); fix the file or delete it", source=where) from None
    lines = text.splitlines()
    return {key: _checked(key, value, f"{path}:{_line_of(key, lines)}") for key, value in data.items()}


def _line_of(key: str, lines: list[str]) -> int:
    return next((number for number, line in enumerate(lines, 1) if line.split("=", 1)[0].strip().strip("\"'") == key), 1)


def _checked(key: str, value: object, source: str | None) -> str | int:
    if key not in SETTINGS:
        error = UnknownName("setting", key, sorted(SETTINGS))
        hint = f"did you mean {error.suggestions[0]!r}? " if error.suggestions else ""
        raise ConfigError(f"unknown setting {key!r}: {hint}known: {', '.join(SETTINGS)}; remove it with `mmo config unset {key}`", source=source)
    setting = SETTINGS[key]
    if setting.kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}", source=source)
        return value
    if setting.kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key} must be a whole number of at least 1, got {value!r}", source=source)
        return value
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty string, got {value!r}", source=source)
    if key == "state" and not value.startswith(STATE_SCHEMES):
        raise ConfigError(f"state must be a Redis URL ({', '.join(STATE_SCHEMES)}...), got {shown_url(value)!r}", source=source)
    if setting.choices and value not in setting.choices:
        close = UnknownName(f"{key} value", value, setting.choices).suggestions
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{key} must be one of {', '.join(setting.choices)}, got {value!r}{hint}", source=source)
    return value


def parse_value(key: str, raw: str) -> str | int:
    """``mmo config set KEY VALUE``'s value, checked as the file's would be."""
    if key not in SETTINGS:
        raise UnknownName("setting", key, sorted(SETTINGS))
    if SETTINGS[key].kind is bool:
        if raw.strip().lower() not in _BOOLEANS:
            raise ConfigError(f"{key} must be true or false, got {raw!r}")
        return _BOOLEANS[raw.strip().lower()]
    if SETTINGS[key].kind is int:
        try:
            return _checked(key, int(raw), None)
        except ValueError:
            raise ConfigError(f"{key} must be a whole number of at least 1, got {raw!r}") from None
    return _checked(key, raw, None)


def set_value(env: AppEnv, key: str, raw: str) -> Path:
    values = load_config(env)
    values[key] = parse_value(key, raw)
    return _write(config_path(env), values)


def unset_value(env: AppEnv, key: str) -> bool:
    """Remove ``key``; whether it was set. An unknown key is removed too (to repair a file)."""
    path = config_path(env)
    try:
        values = load_config(env)
    except ConfigError:
        values = _without_checks(path)
    if key not in values:
        if key not in SETTINGS:
            raise UnknownName("setting", key, sorted(SETTINGS))
        return False
    del values[key]
    _write(path, values)
    return True


def _without_checks(path: Path) -> dict[str, str | int]:
    import tomllib

    try:
        return dict(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot repair the config file ({error}); edit or delete it", source=str(path)) from None


def _write(path: Path, values: dict[str, str | int]) -> Path:
    import json

    body = "".join(f"{key} = {json.dumps(value)}\n" for key, value in sorted(values.items()))  # a JSON string is a TOML basic string
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text("# mmo defaults: edit with `mmo config set|unset` (see `mmo config show`)\n" + body, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@dataclass(frozen=True, slots=True)
class Effective:
    """A setting's value and where it came from: "env MMO_PROFILE", "config" or "default"."""

    key: str
    value: str | int | None
    source: str


def effective(env: AppEnv, key: str, config: dict[str, str | int] | None = None) -> Effective:
    """The value in force without a flag: the environment variable, then the file."""
    setting = SETTINGS[key]
    raw = env.environ.get(setting.env_var, "").strip()
    if raw:
        try:
            return Effective(key, parse_value(key, raw), f"env {setting.env_var}")
        except ConfigError as error:
            raise ConfigError(f"{setting.env_var}: {error.message}") from None
    found = load_config(env) if config is None else config
    if key in found:
        return Effective(key, found[key], "config")
    return Effective(key, DEFAULT_CONCURRENCY if key == "concurrency" else None, "default")


def default_text(env: AppEnv, key: str) -> str | None:
    """A text default (``profile``, ``model``) in force without a flag, or ``None``."""
    value = effective(env, key).value
    return None if value is None else str(value)


def key_file_opted_in(env: AppEnv, flag: bool) -> bool:
    """``--key-file``, else ``MMO_KEY_FILE``, else the config's ``key_file``."""
    return flag or effective(env, "key_file").value is True


def default_output(env: AppEnv) -> str:
    """``mmo ask``'s output style when no flag chooses one: ``MMO_OUTPUT``, the config's, ``table``."""
    return str(effective(env, "output").value or "table")


def state_url(env: AppEnv) -> str | None:
    """The shared state's Redis URL (``MMO_STATE_URL``, then the config), or ``None``: all local."""
    value = effective(env, "state").value
    return None if value is None else str(value)


def shown_value(key: str, value: str | int | None) -> str | int | None:
    """A setting's value as it may be shown: a state URL's password masked."""
    return shown_url(value) if key == "state" and isinstance(value, str) else value


def shown_url(url: str) -> str:
    """``url`` with any password masked, for showing."""
    from mmo.runtime.redis_scripts import masked_url

    return masked_url(url)


def default_concurrency(env: AppEnv, flag: int | None) -> int:
    """``--concurrency``, else ``MMO_CONCURRENCY``, else the config's, else 16."""
    return flag if flag is not None else int(effective(env, "concurrency").value or DEFAULT_CONCURRENCY)

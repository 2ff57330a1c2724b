"""Conventional metavars in every help page: nothing after a flag, ``N`` for a count, ``FILE``
for a path, ``KEY=VALUE`` for a pair, a name that says what goes there (``NAME``, ``MODEL``,
``ID``) for the rest, instead of typer's ``<bool>``, ``<list[str]>``, ``<int range>``. Applied
once to every command's declared options (``conventional_metavars``) before typer builds them; an
option that names its own metavar keeps it."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import typer
from typer.models import ArgumentInfo, OptionInfo, ParameterInfo

# By the parameter's name in the command's signature.
_BY_NAME: dict[str, str] = {
    "profile": "NAME", "model": "MODEL", "system": "TEXT", "param": "KEY=VALUE", "meta": "KEY=VALUE", "tag": "TAG",
    "cid": "ID", "attach": "FILE", "schema": "FILE", "tools": "FILE", "tool_choice": "CHOICE", "output": "FILE",
    "run_id": "NAME", "provider": "NAME", "search": "TEXT", "name": "NAME", "models": "A,B,...", "concurrency": "N",
    "prompt": "PROMPT", "task": "TASK", "run": "RUN", "file": "FILE",
}
_BY_TYPE: dict[type, str] = {int: "N", float: "X", Path: "FILE", str: "TEXT"}


def conventional_metavars(app: typer.Typer) -> None:
    """Give every option and argument of ``app`` (its sub-apps too) a conventional metavar."""
    callbacks = [command.callback for command in app.registered_commands]
    if app.registered_callback is not None:
        callbacks.append(app.registered_callback.callback)  # a group's own options (``mmo logs -n``)
    for callback in callbacks:
        if callback is not None:
            _apply(callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            conventional_metavars(group.typer_instance)


def _apply(callback: Any) -> None:
    for name, parameter in inspect.signature(callback).parameters.items():
        info = _info(parameter)
        if info is None or info.metavar is not None:
            continue
        value_type = _value_type(parameter.annotation)
        if value_type is bool:
            info.metavar = ""  # a flag takes no value
        elif isinstance(info, ArgumentInfo):
            info.metavar = _BY_NAME.get(name, name.upper())
        elif name in _BY_NAME or value_type in _BY_TYPE:
            info.metavar = _BY_NAME.get(name) or _BY_TYPE[value_type]


def _info(parameter: inspect.Parameter) -> ParameterInfo | None:
    if isinstance(parameter.default, (OptionInfo, ArgumentInfo)):
        return parameter.default
    return next((m for m in getattr(parameter.annotation, "__metadata__", ()) if isinstance(m, (OptionInfo, ArgumentInfo))), None)


def _value_type(annotation: Any) -> Any:
    """``str`` for ``Annotated[str | None, ...]`` and ``list[str]``; ``bool`` for flags."""
    while get_origin(annotation) is not None and hasattr(annotation, "__metadata__"):
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        kept = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = kept[0] if len(kept) == 1 else annotation
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return annotation

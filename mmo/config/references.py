"""The names a valid profile refers to (model aliases, providers, provider:model ids, in its
models, strategy and limits) and which of them name nothing known."""

from __future__ import annotations

from typing import Annotated, Any, Iterator, Mapping, Sequence, get_args, get_origin

from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.config.problems import KeyPath, format_key_path
from mmo.config.schema import NodeSpec, Profile, field_types
from mmo.config.type_hints import is_union, unwrap
from mmo.core.errors import UnknownName
from mmo.core.types import ModelRef
from mmo.spec.base import Spec
from mmo.strategies.model import ModelNodeSpec


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
    return is_union(tp) and any(_is_node_type(arg) for arg in get_args(tp) if arg is not type(None))


def _walk_refs(value: Any, tp: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if value is None:
        return
    if _is_node_type(tp) and isinstance(value, str):
        yield path, value
        return
    if isinstance(value, ModelNodeSpec) and _is_node_type(tp):
        yield (*path, "model"), value.model
    if isinstance(value, Spec):
        for name, field_type in field_types(type(value)).items():
            yield from _walk_refs(getattr(value, name), field_type, (*path, name))
        return
    inner = unwrap(tp)
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

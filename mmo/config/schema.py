"""The profile schema, assembled from the registries: what a user writes in YAML.

A strategy node (``NodeSpec``) is a model reference (``fast``, ``openai:gpt-5-mini``) or a
mapping whose *kind key* says what it is (``{fallback: [...]}``): one member per registered
strategy kind (``mmo.strategies.kinds``). A provider entry is one model per registered provider
kind (``mmo.providers.kinds``), with that kind's own fields. Each kind's spec classes name
``NodeSpec`` without defining it; they are resolved here, once the union exists, as parts of
the ``Profile`` (which is the one model that is validated), when a profile is first validated:
a run whose profile comes from the profile cache never builds the schema. Every model forbids
unknown keys, so a typo is an error naming the key, not a silent default.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Annotated, Any, Literal, Union, get_type_hints

from pydantic import BaseModel, Discriminator, Field, Tag, create_model

from mmo.providers.kinds import PROVIDER_KINDS
from mmo.spec.base import Spec
from mmo.spec.params import ParamsSpec
from mmo.spec.portfolio import (
    BudgetSpec,
    LimitSpec,
    ModelEntry,
    ModelsSpec,
    PrivacySpec,
    ProviderEntryBase,
    RetrySpec,
    model_entry,
)
from mmo.strategies.gates.spec import GatesSpec, gate_specs
from mmo.strategies.kinds import strategy_kinds

_KINDS = strategy_kinds()
NODE_SPECS: dict[str, type[Spec]] = {key: kind.spec for key, kind in _KINDS.items()}
_IMPLIED: dict[str, str] = {key: kind.key for kind in _KINDS.values() for key in kind.implied_by}


def node_kind(value: Any) -> str | None:
    """The tag of a node value: ``ref`` for a string, else the kind key it holds (or implies)."""
    if isinstance(value, str):
        return "ref"
    if isinstance(value, Spec):
        return next((key for key, spec in NODE_SPECS.items() if type(value) is spec), None)
    if isinstance(value, dict):
        found = next((key for key in NODE_SPECS if key in value), None)
        return found or next((kind for key, kind in _IMPLIED.items() if key in value), None)
    return None


def _node_union() -> Any:
    members: list[Any] = [Annotated[str, Tag("ref")], *(Annotated[spec, Tag(key)] for key, spec in NODE_SPECS.items())]
    discriminator = Discriminator(
        node_kind,
        custom_error_type="unknown_strategy",
        custom_error_message="expected a model name or a mapping with a strategy key (" + ", ".join(NODE_SPECS) + ")",
    )
    return Annotated[Union.__getitem__(tuple(members)), discriminator]  # a union of the registered kinds


# Made from the registry at import time, so the type checker sees ``Any``.
NodeSpec: Any = _node_union()


def _provider_entry(kind: Any) -> Any:
    """One provider kind's entry: the common fields, ``kind`` fixed to its name, its own fields."""
    options = kind.options_spec()
    bases = (ProviderEntryBase,) if options is None else (ProviderEntryBase, options)
    name = "".join(part.capitalize() for part in kind.name.split("_")) + "ProviderEntry"
    literal: Any = Literal
    entry = create_model(name, __base__=bases, __module__=__name__, kind=(literal[kind.name], kind.name))
    setattr(sys.modules[__name__], name, entry)  # found by name, as pickle finds a class (profile_cache)
    return entry


def _provider_tag(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "openai"))
    return str(getattr(value, "kind", "openai"))


def _provider_union() -> Any:
    entries = {kind.name: _provider_entry(kind) for kind in PROVIDER_KINDS}
    discriminator = Discriminator(
        _provider_tag,
        custom_error_type="unknown_provider_kind",
        custom_error_message="expected kind to be one of " + ", ".join(entries),
    )
    members = tuple(Annotated[entry, Tag(name)] for name, entry in entries.items())
    return Annotated[Union.__getitem__(members), discriminator]  # a union of the registered kinds


ProviderEntry: Any = _provider_union()


class Profile(Spec):
    """A named portfolio of models and the strategy that routes between them."""

    name: str
    description: str = ""
    models: ModelsSpec = Field(default_factory=dict, description="alias -> provider:model or an entry")
    providers: dict[str, ProviderEntry] = Field(default_factory=dict)
    defaults: ParamsSpec = Field(default_factory=ParamsSpec)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    limits: dict[str, LimitSpec] = Field(default_factory=dict)
    strategy: NodeSpec

    def model_entry(self, alias: str) -> ModelEntry | None:
        return model_entry(self.models, alias)

    @classmethod
    def model_rebuild(cls, *, force: bool = False, raise_errors: bool = True, _parent_namespace_depth: int = 2,
                      _types_namespace: Any = None) -> bool | None:
        """Built on first use (validation, a JSON Schema), always with the late names: a profile
        read from the cache (``profile_cache``) is never validated, and its process never builds
        the schema (~30-40 ms)."""
        names = _LATE_NAMES if _types_namespace is None else _types_namespace
        return super().model_rebuild(force=force, raise_errors=raise_errors, _types_namespace=names)


# The names the kinds' specs use without defining them. The profile's schema is built once, with
# every spec in it (rebuilding each spec on its own would build the whole union once per spec),
# when a profile is first validated (``Profile.model_rebuild``); a spec validated on its own (a
# default ``GatesSpec``, a test) finds them as its parent namespace.
_LATE_NAMES: dict[str, Any] = {"NodeSpec": NodeSpec, "GatesSpec": GatesSpec}
for _spec in (*gate_specs(), *(spec for kind in _KINDS.values() for spec in kind.specs)):
    _spec.__pydantic_parent_namespace__ = _LATE_NAMES


@cache
def field_types(model: type[BaseModel]) -> dict[str, Any]:
    """Each field's type, ``NodeSpec`` resolved (a spec's own ``model_fields`` keep it as a forward
    reference until the spec is validated on its own), ``Annotated`` kept."""
    hints = get_type_hints(model, localns=_LATE_NAMES, include_extras=True)
    return {name: hints.get(name, field.annotation) for name, field in model.model_fields.items()}

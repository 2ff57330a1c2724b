"""What a valid profile still lacks to run well on this machine, as warnings for ``mmo profiles
validate``: a provider the tree calls with no key here (its calls will fail, or a fallback will
move past them) and a model with no price anywhere (its cost shows as unknown, and a budget or
``--max-cost`` refuses it). Each is located at the line of the profile that names it. Nothing is called and no key is read: only
whether one is there.
"""

from __future__ import annotations

from typing import Mapping

from mmo.app.portfolio import catalog_for, provider_settings
from mmo.catalog.catalog import Catalog
from mmo.config.loader import ProfileCheck
from mmo.config.problems import KeyPath, Problem, format_key_path
from mmo.config.references import strategy_references
from mmo.config.schema import Profile
from mmo.config.yaml_lines import line_of
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from mmo.core.protocols import leaf_targets
from mmo.core.target import ModelTarget
from mmo.providers.kinds import provider_kind
from mmo.runtime.keys import KeyStore
from mmo.strategies.build import build_tree


def readiness_warnings(check: ProfileCheck, environ: Mapping[str, str], paths: MmoPaths) -> list[Problem]:
    """Missing keys and unpriced models of a valid profile (``check.ok``), in tree order."""
    profile = check.profile
    if profile is None:
        return []
    file = check.source.location
    try:
        endpoints = provider_settings(profile)
    except ConfigError as error:
        return [Problem(file, error.message, "providers", check.lines.get(("providers",)))]
    catalog = catalog_for(profile, endpoints, paths.cache_dir / "prices")
    where = _reference_paths(profile)
    keys = KeyStore(environ)
    warnings: list[Problem] = []
    seen: set[str] = set()
    for target in leaf_targets(build_tree(profile)):
        endpoint = endpoints.get(target.ref.provider)
        if endpoint is None or not provider_kind(endpoint.kind).http:
            continue  # a replay file: free, and needs no key
        path = where.get(target.label) or where.get(target.id) or ("strategy",)
        line = line_of(path, check.lines)
        if endpoint.needs_key and endpoint.name not in seen and keys.source(endpoint.name, endpoint.key_env, use_keyring=endpoint.keyring) is None:
            seen.add(endpoint.name)
            fix = f"set {endpoint.key_env}" + ("" if not endpoint.keyring else f" or run `mmo keys set {endpoint.name}`")
            warnings.append(Problem(file, f"no API key for provider {endpoint.name!r} here ({fix}): its calls will fail", format_key_path(path), line))
        if target.id not in seen and not _priced(target, catalog):
            seen.add(target.id)
            message = (
                f"no price known for {target.id}: its cost shows as unknown, and a budget or --max-cost refuses it "
                "(give its models: entry a price: {input: USD, output: USD} per 1M tokens)"
            )
            warnings.append(Problem(file, message, format_key_path(path), line))
    return warnings


def _reference_paths(profile: Profile) -> dict[str, KeyPath]:
    # The first place the strategy names each alias or provider:model.
    found: dict[str, KeyPath] = {}
    for path, reference in strategy_references(profile):
        found.setdefault(reference, path)
    return found


def _priced(target: ModelTarget, catalog: Catalog) -> bool:
    price = catalog.price(target.ref)
    return target.local or (price is not None and price.complete)

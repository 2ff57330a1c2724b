"""mmo: a multi-model orchestrator for the command line, and a small library behind it.

The public API loads lazily (module ``__getattr__``), so ``import mmo`` and ``mmo --version`` stay
cheap; each name is imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from mmo._version import __version__

_EXPORTS = {
    "Request": "mmo.core.types",
    "Params": "mmo.core.types",
    "Message": "mmo.core.types",
    "Completion": "mmo.core.types",
    "Usage": "mmo.core.types",
    "Cost": "mmo.core.types",
    "Delta": "mmo.core.types",
    "ModelRef": "mmo.core.types",
    "MmoError": "mmo.core.errors",
    "ProviderError": "mmo.core.errors",
    "ConfigError": "mmo.core.errors",
    "AllAttemptsFailed": "mmo.core.errors",
    "Profile": "mmo.config.schema",
    "load_profile": "mmo.config.loader",
    "AskInput": "mmo.app.ask",
    "RunOutcome": "mmo.app.outcome",
    "RunSettings": "mmo.app.settings",
    "ask": "mmo.app.ask",
    "AppEnv": "mmo.app.settings",
    "ProfileChoice": "mmo.app.settings",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mmo' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

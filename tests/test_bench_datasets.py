"""The built-in data sets' default checks (``mmo.app.bench.datasets``)."""

from __future__ import annotations

from mmo.app.bench.datasets import BUILTIN_DEFAULT_CHECKS, builtin_default_check
from mmo.providers.replay import BUILTIN_FILES


def test_every_builtin_data_set_has_a_default_check() -> None:
    assert set(BUILTIN_DEFAULT_CHECKS) == set(BUILTIN_FILES)
    for name in ("mmlu_pro", "mmlu_pro_sample"):
        assert builtin_default_check(name) == builtin_default_check(f"builtin:{name}") == {"kind": "choice"}


def test_an_unknown_name_has_none_and_a_caller_cannot_change_the_registry() -> None:
    assert builtin_default_check("nope") is None and builtin_default_check("builtin:nope") is None
    check = builtin_default_check("mmlu_pro")
    assert check is not None
    check["kind"] = "exact"
    assert builtin_default_check("mmlu_pro") == {"kind": "choice"}

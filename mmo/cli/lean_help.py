"""Help pages and usage errors without the parts of rich they never use.

typer renders help and usage errors with ``typer.rich_utils``, which imports ``rich.markdown``
(with markdown-it: ~40 ms) and ``rich.traceback`` (~17 ms) on its first line, for the
``markdown`` markup mode and pretty tracebacks. mmo uses neither (``rich_markup_mode="rich"``,
``pretty_exceptions_enable=False``), and ``mmo --help`` is judged by its start-up. While
``typer.rich_utils`` is imported, those two modules are stand-ins whose classes load the real one
on first use (so a later markup mode or traceback still works); after it, the real modules are
imported as usual by whoever needs them.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from typing import Any, Sequence

_TARGET = "typer.rich_utils"
_DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def install() -> None:
    """Make the next import of ``typer.rich_utils`` lean (once; nothing if it is imported already)."""
    if _TARGET not in sys.modules and not any(isinstance(finder, _LeanFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LeanFinder())


class _LeanFinder:  # a meta path finder (duck-typed: importlib.abc costs ~9 ms of imports)
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None) -> Any:
        if fullname != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _LeanLoader(spec.loader)  # type: ignore[assignment]  # a loader by its methods
        return spec


class _LeanLoader:
    def __init__(self, real: Any) -> None:
        self._real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._real.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: types.ModuleType) -> None:
        stand_ins = {name: _stand_in(name, attr) for name, attr in _DEFERRED.items() if name not in sys.modules}
        sys.modules.update(stand_ins)
        try:
            self._real.exec_module(module)
        finally:
            for name, stand_in in stand_ins.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]


class _Deferred(type):
    """A class that is the real one as soon as it is used: calling it makes the real class's
    object, and its attributes (``Traceback.from_exception``) are the real class's."""

    _where: tuple[str, str]

    def _real(cls) -> Any:
        module, name = cls._where
        return getattr(importlib.import_module(module), name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._real(), name)


def _stand_in(module_name: str, class_name: str) -> types.ModuleType:
    module = types.ModuleType(module_name, f"stand-in for {module_name} while {_TARGET} is imported")
    setattr(module, class_name, _Deferred(class_name, (), {"_where": (module_name, class_name)}))
    return module

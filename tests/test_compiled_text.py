"""The compiled methods of dataclasses kept between runs (``mmo.cli.compiled_text``): classes
made through the table behave as ``dataclasses`` makes them, a second process compiles nothing,
and a file that cannot be trusted or read is ignored."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from mmo.cli.compiled_text import CompiledText, install


def _define(table: CompiledText, monkeypatch: pytest.MonkeyPatch) -> type:
    monkeypatch.setattr(dataclasses, "exec", table.exec, raising=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 2
        tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)

    monkeypatch.delattr(dataclasses, "exec")
    return Point


def test_classes_made_through_the_table_behave_and_a_second_run_compiles_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "code" / "dataclasses-test.marshal"
    first = CompiledText(path)
    point = _define(first, monkeypatch)
    assert first.compiled > 0
    made = point(1)
    assert (made.x, made.y, made.tags) == (1, 2, ())
    assert made == point(1, 2) and hash(made) == hash(point(1, 2)) and repr(made).endswith("Point(x=1, y=2, tags=())")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.x = 3  # type: ignore[misc]
    first.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = CompiledText(path)
    again = _define(second, monkeypatch)
    assert second.compiled == 0  # every method came from the file
    assert repr(again(1, 5)) == repr(point(1, 5)) and again(1) == again(1, 2) and again(1) != again(2)
    written = path.stat().st_mtime_ns
    path.chmod(0o400)  # a write would now fail loudly in the check below, not silently
    second.save()  # nothing compiled: nothing written
    assert path.stat().st_mtime_ns == written and stat.S_IMODE(path.stat().st_mode) == 0o400


def test_a_file_others_may_write_or_a_damaged_one_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "dataclasses-test.marshal"
    table = CompiledText(path)
    _define(table, monkeypatch)
    table.save()
    os.chmod(path, 0o666)
    assert CompiledText(path).codes == {}  # as Python ignores a .pyc it cannot trust
    os.chmod(path, 0o600)
    assert CompiledText(path).codes != {}
    path.write_bytes(b"\x00not marshal data")
    assert CompiledText(path).codes == {}


def test_it_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMO_NO_CODE_CACHE", "1")
    assert install(tmp_path) is None
    assert "exec" not in vars(dataclasses)


def test_forward_references_compile_through_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typing

    table = CompiledText(tmp_path / "compiled-test.marshal")
    monkeypatch.setattr(typing, "compile", table.compile, raising=False)
    assert typing.ForwardRef("dict[str, int]")._evaluate(globals(), None, frozenset()) == dict[str, int]
    assert table.compiled == 1
    typing.ForwardRef("dict[str, int]")
    assert table.compiled == 1  # the same text: from the table
    with pytest.raises(SyntaxError, match="Forward reference must be an expression"):
        typing.ForwardRef("not an expression (")

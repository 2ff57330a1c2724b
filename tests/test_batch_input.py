"""Batch input rows: what a line may hold, and why a malformed one is refused (with its line)."""

from __future__ import annotations

import json
from pathlib import Path

from mmo.app.batch.input import InputRow, Malformed, RowParser, digest_file, first_malformed, read_rows


def parse(line: str | bytes, base: dict | None = None, number: int = 7) -> InputRow | Malformed:
    raw = line.encode() if isinstance(line, str) else line
    return RowParser(base or {}).parse(number, raw)


def test_a_prompt_row_with_every_field() -> None:
    row = parse(json.dumps({"id": "q1", "prompt": "Hi", "system": "Be brief", "params": {"max_tokens": 5}, "tags": ["legal"], "metadata": {"n": 3, "src": "crm"}, "expected": "B"}))
    assert isinstance(row, InputRow)
    assert (row.index, row.row_id) == (7, "q1")
    assert [(m.role, m.content) for m in row.request.messages] == [("system", "Be brief"), ("user", "Hi")]
    assert row.request.params.max_tokens == 5
    assert row.request.tags == ("legal",)
    assert dict(row.request.metadata) == {"n": "3", "src": "crm"}  # router rules compare text


def test_messages_rows_and_the_line_number_as_default_id() -> None:
    row = parse(json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}], "system": "s"}))
    assert isinstance(row, InputRow)
    assert row.row_id == 7
    assert [m.role for m in row.request.messages] == ["system", "user", "assistant", "user"]


def test_row_params_win_over_the_flags_key_by_key() -> None:
    base = {"temperature": 0.2, "max_tokens": 100}
    row = parse(json.dumps({"prompt": "x", "params": {"max_tokens": 5}}), base)
    plain = parse(json.dumps({"prompt": "x"}), base)
    assert isinstance(row, InputRow) and isinstance(plain, InputRow)
    assert (row.request.params.temperature, row.request.params.max_tokens) == (0.2, 5)
    assert (plain.request.params.temperature, plain.request.params.max_tokens) == (0.2, 100)


def test_malformed_lines_say_why() -> None:
    cases = {
        "not json": "not valid JSON",
        "[1, 2]": "expected a JSON object, got list",
        '{"id": 1}': "needs 'prompt'",
        '{"prompt": ""}': "'prompt' must be a non-empty string",
        '{"prompt": "a", "messages": []}': "has both",
        '{"messages": [{"role": "robot", "content": "x"}]}': "message 1 must be",
        '{"prompt": "a", "params": {"max_tokens": "many"}}': "max_tokens",
        '{"prompt": "a", "tags": "x"}': "'tags' must be a list",
        '{"prompt": "a", "id": {"x": 1}}': "'id' must be",
        '{"prompt": "a", "metadata": [1]}': "'metadata' must be an object",
    }
    for line, reason in cases.items():
        bad = parse(line)
        assert isinstance(bad, Malformed), line
        assert reason in bad.reason, (line, bad.reason)
        assert bad.line == 7 and bad.text == line[:200]
    assert "UTF-8" in parse(b'{"prompt": "\xff"}').reason  # type: ignore[union-attr]


def test_reading_skips_blank_lines_keeps_line_numbers_and_strips_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "one"}\n\n   \n{"prompt": "two"}\nnope\n{"prompt": "three"}')
    items = list(read_rows(path, RowParser({})))
    assert [(type(i).__name__, i.index if isinstance(i, InputRow) else i.line) for i in items] == [
        ("InputRow", 1), ("InputRow", 4), ("Malformed", 5), ("InputRow", 6)]
    assert digest_file(path).rows == 4
    bad = first_malformed(path, RowParser({}))
    assert bad is not None and bad.line == 5


def test_the_digest_changes_with_the_content(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"prompt": "a"}\n')
    first = digest_file(path)
    path.write_text('{"prompt": "b"}\n')
    assert digest_file(path).sha256 != first.sha256

"""Bench task sets: every format and its defaults, built-in and replay files, derived ids and the
split, ``Task.request`` and the ``tasks.jsonl`` round trip, and every bad input refused with a
``ConfigError`` naming ``file:line`` and the fix (never another exception)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from mmo.app.bench import task_files
from mmo.app.bench.checks import build_check
from mmo.app.bench.tasks import TaskSet, in_train, load_task_set, task_from_json, task_to_json
from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import ConfigError
from mmo.core.types import Message
from mmo.providers.replay import ReplayProvider


def jsonl(path: Path, *rows: Any) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf-8")
    return path


def refused(path: Path | str, **kw: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_task_set(path, **kw)
    return caught.value.message


# --- formats and their defaults ------------------------------------------------------------


def test_jsonl_defaults_line_sets_every_task_and_a_task_s_own_values_win(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "t.jsonl",
        {"defaults": {"check": "choice", "system": "Be brief.", "params": {"max_tokens": 64, "temperature": 0}, "category": "law", "tags": ["x"]}},
        {"id": "a", "prompt": "Q1", "reference": "B"},
        "",
        {"id": "b", "prompt": "Q2", "reference": "7", "check": {"kind": "number"}, "system": "Show work.", "params": {"temperature": 1}, "category": "math", "tags": ["y"]},
    )
    tasks = load_task_set(path)
    a, b = tasks.tasks
    assert (a.check, a.system, dict(a.params), a.category, a.tags, a.line) == ({"kind": "choice"}, "Be brief.", {"max_tokens": 64, "temperature": 0}, "law", ("x",), 2)
    assert (b.check, b.system, dict(b.params), b.category, b.tags, b.line) == ({"kind": "number"}, "Show work.", {"max_tokens": 64, "temperature": 1}, "math", ("y",), 4)
    assert tasks.default_check == {"kind": "choice"}
    assert tasks.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_yaml_defaults_and_tasks_or_a_bare_list(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "defaults:\n  check: {kind: number, tolerance: 0.5}\n  tags: [arith]\n"
        "tasks:\n"
        "  - id: sum\n    prompt: What is 2+2?\n    reference: 4\n"
        "  - messages:\n      - {role: user, content: Hi}\n      - {role: assistant, content: Hello}\n      - {role: user, content: Say yes}\n"
        '    reference: "yes"\n    check: {kind: contains}\n',
        encoding="utf-8",
    )
    first, second = load_task_set(path).tasks
    assert (first.id, first.reference, first.check, first.tags, first.line) == ("sum", 4, {"kind": "number", "tolerance": 0.5}, ("arith",), 5)
    assert [m.role for m in second.messages] == ["user", "assistant", "user"] and second.prompt == "Say yes"
    assert second.check == {"kind": "contains"} and second.line == 8

    bare = tmp_path / "bare.yml"
    bare.write_text("- {prompt: Capital of France?, reference: Paris}\n", encoding="utf-8")
    assert load_task_set(bare, default_check="exact").tasks[0].check == {"kind": "exact"}


def test_csv_columns_checks_tags_and_the_default_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "\ufeffid,prompt,system,reference,check,category,tags,params\n"
        'q1,"A prompt, with a comma\nand a second line",Be terse.,C,choice,law,a; b,\n'
        'q2,How many?,,42,"{""kind"": ""number"", ""marker"": ""####""}",math,,"{""max_tokens"": 8}"\n'
        "\n"
        "q3,Name it,,Paris,,geo\n",
        encoding="utf-8",
    )
    q1, q2, q3 = load_task_set(path, default_check="exact").tasks
    assert q1.prompt == "A prompt, with a comma\nand a second line" and q1.system == "Be terse." and q1.tags == ("a", "b") and q1.check == {"kind": "choice"}
    assert (q2.line, q2.check, dict(q2.params), q2.reference) == (4, {"kind": "number", "marker": "####"}, {"max_tokens": 8}, "42")
    assert (q3.line, q3.check, q3.category, q3.system) == (6, {"kind": "exact"}, "geo", None)


def test_gzip_is_read_by_content_and_hashed_as_stored(tmp_path: Path) -> None:
    rows = [{"id": "a", "prompt": "Q", "reference": "A", "check": "choice"}]
    text = "".join(json.dumps(row) + "\n" for row in rows).encode()
    for name in ("t.jsonl.gz", "t.jsonl"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(text))
        tasks = load_task_set(path)
        assert [t.id for t in tasks.tasks] == ["a"] and tasks.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_replay_file_is_a_task_set_and_its_recordings_are_ignored(tmp_path: Path) -> None:
    recording = {"text": "The answer is (B).", "input_tokens": 5, "output_tokens": 4, "cost_usd": 1e-6}
    path = jsonl(tmp_path / "replay.jsonl", {"id": "r1", "prompt": "Q?", "reference": "B", "category": "law", "models": {"m": recording}})
    (task,) = load_task_set(path, default_check="choice").tasks
    assert (task.id, task.prompt, task.reference, task.category) == ("r1", "Q?", "B", "law")
    assert "models" not in task_to_json(task)


def test_the_builtin_sample_loads_with_its_default_check() -> None:
    tasks = load_task_set("builtin:mmlu_pro_sample")
    assert len(tasks.tasks) == 300 and tasks.path == "builtin:mmlu_pro_sample"
    assert tasks.default_check == {"kind": "choice"} and {t.check["kind"] for t in tasks.tasks} == {"choice"}
    packaged = Path(__file__).resolve().parent.parent / "mmo" / "data" / "mmlu_pro_sample.jsonl.gz"
    assert tasks.sha256 == hashlib.sha256(packaged.read_bytes()).hexdigest()
    # the command line's check wins over the data set's
    assert load_task_set("builtin:mmlu_pro_sample", default_check="exact").tasks[0].check == {"kind": "exact"}


def test_a_check_comes_from_the_task_then_the_file_then_the_command_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"defaults": {"check": "exact"}}, {"id": "own", "prompt": "Q", "reference": "x", "check": "contains"}, {"id": "file", "prompt": "Q2", "reference": "x"})
    own, from_file = load_task_set(path, default_check="regex").tasks
    assert own.check == {"kind": "contains"} and from_file.check == {"kind": "exact"}
    plain = jsonl(tmp_path / "plain.jsonl", {"prompt": "Q", "reference": "x"})
    assert load_task_set(plain, default_check='{"kind": "contains", "case": false}').tasks[0].check == {"kind": "contains", "case": False}


def test_each_distinct_check_is_built_once_and_found_for_its_tasks(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", *({"prompt": f"Q{i}", "reference": str(i)} for i in range(50)), {"prompt": "Qx", "reference": "A", "check": "choice"})
    tasks = load_task_set(path, default_check="number")
    checks = {id(tasks.check_for(task)) for task in tasks.tasks}
    assert len(checks) == 2 and tasks.check_for(tasks.tasks[0]).verdict("it is 0", "0").correct is True


# --- ids and the split ---------------------------------------------------------------------


def test_derived_ids_are_stable_when_the_file_is_reordered(tmp_path: Path) -> None:
    rows = [{"prompt": f"Question {i}", "reference": str(i)} for i in range(20)]
    forward = load_task_set(jsonl(tmp_path / "a.jsonl", *rows), default_check="exact")
    backward = load_task_set(jsonl(tmp_path / "b.jsonl", *reversed(rows)), default_check="exact")
    assert {t.prompt: t.id for t in forward.tasks} == {t.prompt: t.id for t in backward.tasks}
    assert len({t.id for t in forward.tasks}) == 20 and all(t.id.startswith("t-") for t in forward.tasks)


def test_a_derived_id_depends_on_what_is_asked_and_expected_not_how_it_is_written(tmp_path: Path) -> None:
    as_prompt = {"prompt": "Q", "reference": "A"}
    as_messages = {"messages": [{"role": "user", "content": "Q"}], "reference": "A"}
    other_reference = {"prompt": "Q", "reference": "B"}
    ids = [load_task_set(jsonl(tmp_path / f"{i}.jsonl", row), default_check="exact").tasks[0].id for i, row in enumerate((as_prompt, as_messages, other_reference))]
    assert ids[0] == ids[1] != ids[2]


def test_the_split_is_sha256_parity_and_about_half() -> None:
    ids = [f"task-{i}" for i in range(2000)]
    assert [in_train(i) for i in ids[:50]] == [int(hashlib.sha256(i.encode()).hexdigest(), 16) % 2 == 0 for i in ids[:50]]
    share = sum(map(in_train, ids)) / len(ids)
    assert 0.45 < share < 0.55


# --- requests and the round trip -----------------------------------------------------------


def test_a_task_s_request_carries_system_params_and_the_id_the_replay_provider_finds() -> None:
    tasks = load_task_set("builtin:mmlu_pro_sample")
    task = tasks.tasks[7]
    request = task.request({"max_tokens": 100, "temperature": 0.5})
    assert request.metadata == {"id": task.id, "category": task.category} and request.params.max_tokens == 100
    replay = ReplayProvider(ProviderSettings("replay", "replay", needs_key=False, options={"path": "builtin:mmlu_pro_sample"}))
    # a request whose text differs from the recording is still found by its id
    other = task.request().__class__((Message("user", "not the recorded text"),), request.params, request.metadata)
    assert asyncio.run(replay.complete(other, "gpt-4o-2024-05-13")).text == replay.replay_file().tasks[task.id].models["gpt-4o-2024-05-13"].text


def test_a_request_puts_the_system_prompt_first_and_task_params_over_the_flags(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"prompt": "Q", "system": "S", "reference": "x", "params": {"temperature": 0.2}, "tags": ["t"]})
    request = load_task_set(path, default_check="exact").tasks[0].request({"temperature": 1.5, "max_tokens": 9})
    assert [(m.role, m.content) for m in request.messages] == [("system", "S"), ("user", "Q")]
    assert (request.params.temperature, request.params.max_tokens, request.tags) == (0.2, 9, ("t",))


def test_tasks_round_trip_through_json_for_every_format(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"type": "object"}')
    yaml_path = tmp_path / "t.yaml"
    yaml_path.write_text(
        "tasks:\n  - {prompt: P, reference: {a: [1, 2.5]}, check: {kind: json_schema, schema_file: s.json}, tags: [x], category: c, params: {seed: 3}}\n",
        encoding="utf-8",
    )
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("prompt,reference,check\nQ,B,choice\n", encoding="utf-8")
    jsonl_path = jsonl(tmp_path / "t.jsonl", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], "reference": 3, "check": "number"})
    for path in (yaml_path, csv_path, jsonl_path):
        for task in load_task_set(path).tasks:
            assert task_from_json(json.loads(json.dumps(task_to_json(task)))) == task


def test_a_schema_file_is_inlined_so_a_stored_task_needs_no_file(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": "object", "required": ["name"]}')
    path = jsonl(tmp_path / "t.jsonl", {"prompt": "Give JSON", "check": {"kind": "json_schema", "schema_file": "schema.json"}})
    stored = json.dumps(task_to_json(load_task_set(path).tasks[0]))
    schema.unlink()
    task = task_from_json(json.loads(stored))
    check = build_check(task.check, where="tasks.jsonl:1", base_dir=tmp_path)
    assert check.verdict('{"name": "x"}', None).correct is True and check.verdict("{}", None).correct is False


def test_a_damaged_stored_task_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="run/tasks.jsonl: not a task as mmo bench stores it"):
        task_from_json({"id": "a", "messages": "oops"}, "run/tasks.jsonl")


# --- bad input: ConfigError naming file:line and the fix ---------------------------------


BAD_JSONL = [
    ('{"prompt": "Q", "reference": "A"', "2", "not valid JSON"),
    ('["prompt"]', "2", "expected a JSON object"),
    ('{"reference": "A"}', "2", "needs 'prompt' (text) or 'messages'"),
    ('{"prompt": "   "}', "2", "'prompt' must be non-empty text"),
    ('{"prompt": "Q", "messages": [{"role": "user", "content": "Q"}]}', "2", "both given"),
    ('{"promt": "Q"}', "2", "unknown key 'promt' (did you mean 'prompt'?)"),
    ('{"prompt": "Q", "reference": "A", "check": "choise"}', "2", "unknown check kind 'choise' (did you mean 'choice'?)"),
    ('{"prompt": "Q", "reference": "A", "check": {"kind": "number", "tolerence": 1}}', "2", "unknown option 'tolerence' (did you mean 'tolerance'?)"),
    ('{"prompt": "Q", "reference": "not a letter", "check": "choice"}', "2", "must be one letter A-J"),
    ('{"prompt": "Q", "reference": "about ten", "check": "number"}', "2", "must hold a number"),
    ('{"prompt": "Q", "check": "exact"}', "2", "no reference for its 'exact' check"),
    ('{"prompt": "Q", "check": {"kind": "regex", "pattern": "(unclosed"}}', "2", "not a valid regular expression"),
    ('{"prompt": "Q", "reference": "[a-", "check": "regex"}', "2", "not a valid regular expression"),
    ('{"prompt": "Q", "check": {"kind": "json_schema", "schema_file": "missing.json"}}', "2", "cannot read 'schema_file' 'missing.json'"),
    ('{"prompt": "Q", "check": {"kind": "json_schema", "schema": {"type": "no-such-type"}}}', "2", "not a valid JSON Schema"),
    ('{"prompt": "Q", "check": {"kind": "judge", "rubric": "is it good?"}}', "2", "needs 'model'"),
    ('{"prompt": "Q", "reference": "A", "params": {"temperature": 5}}', "2", "temperature"),
    ('{"prompt": "Q", "reference": "A", "params": {"model": "gpt-4o"}}', "2", "model is not a parameter"),
    ('{"prompt": "Q", "reference": NaN}', "2", "NaN is not a JSON number"),
    ('{"prompt": "Q\\ud800", "reference": "A"}', "2", "lone surrogate"),
    ('{"prompt": "Q", "reference": "A", "tags": "x"}', "2", "'tags' must be a list of texts"),
    ('{"prompt": "Q", "reference": "A", "id": true}', "2", "'id' must be non-empty text or a whole number"),
    ('{"messages": [{"role": "assistant", "content": "hi"}], "reference": "A"}', "2", "hold no user message"),
    ('{"messages": [{"role": "robot", "content": "hi"}], "reference": "A"}', "2", "message 1 must be"),
    ('{"prompt": "Q", "reference": "A", "check": 7}', "2", "a check is a kind name"),
    ('{"prompt": "Q", "reference": "A", "check": {"tolerance": 1}}', "2", "a check needs a 'kind'"),
    ('{"defaults": {"check": "exact"}}', "2", "the defaults must come first"),
    ('{"prompt": "Q", "reference": ' + "[" * 200 + "]" * 200 + "}", "2", "nested more than 100 levels"),
]


@pytest.mark.parametrize(("line", "at", "expected"), BAD_JSONL)
def test_bad_jsonl_lines_are_refused_with_file_line_and_why(tmp_path: Path, line: str, at: str, expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "fine", "reference": "A"}\n' + line + "\n", encoding="utf-8")
    message = refused(path, default_check="choice")
    assert message.startswith(f"{path}:{at}: ") and expected in message


def test_a_task_with_no_check_anywhere_says_every_way_to_give_one(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"prompt": "Q", "reference": "A"})
    message = refused(path)
    assert message.startswith(f"{path}:1: this task has no check") and '{"defaults": {"check": "choice"}}' in message and "--check" in message


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"id": "q1", "prompt": "A", "reference": "x"}, {"id": "q2", "prompt": "B", "reference": "x"}, {"id": "q1", "prompt": "C", "reference": "x"})
    assert refused(path, default_check="exact") == f"{path}:3: task id 'q1' is already used at line 1: ids must be unique, rename one"
    same = jsonl(tmp_path / "same.jsonl", {"prompt": "A", "reference": "x"}, {"prompt": "A", "reference": "x"})
    assert refused(same, default_check="exact").startswith(f"{same}:2: the same task as line 1")
    numbered = jsonl(tmp_path / "n.jsonl", {"id": 7, "prompt": "A", "reference": "x"}, {"id": "7", "prompt": "B", "reference": "x"})
    assert "already used at line 1" in refused(numbered, default_check="exact")


def test_a_bad_command_line_check_is_refused_as_check_before_reading_tasks(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"prompt": "Q", "reference": "A"})
    assert refused(path, default_check="nope").startswith("--check: unknown check kind 'nope'")
    assert "not a JSON object" in refused(path, default_check="{kind: number}")


YAML_BAD = [
    ("tasks:\n  - prompt: Q\n    reference: A\n    check: {kind: choice, bogus: 1}\n", 4, "unknown option 'bogus'"),
    ("tasks:\n  - prompt: Q\n    reference: [unclosed\n", 4, "invalid YAML"),
    ("tasks:\n  - prompt: Q\n    promt: A\n", 3, "unknown key 'promt'"),
    ("defaults: {check: choice}\ntask:\n  - prompt: Q\n", 2, "unknown top-level key 'task'"),
    ("tasks: {prompt: Q}\n", 1, "'tasks' must be a list"),
    ("defaults: choice\ntasks:\n  - {prompt: Q, reference: A}\n", 1, "'defaults' must be a mapping"),
    ("tasks:\n  - just text\n", 2, "each task is a mapping"),
    ("tasks:\n  - {prompt: Q, reference: A}\n  - prompt: Q2\n    reference: 2024-01-01\n", 4, "must be JSON data"),
    ("tasks:\n  - {prompt: Q, reference: .nan, check: exact}\n", 2, "no NaN"),
    ("tasks:\n  - {prompt: Q, reference: yes, check: exact}\n", 2, "YAML reads an unquoted yes"),
    ("tasks:\n  - {id: x, prompt: Q, reference: A}\n  - {id: x, prompt: R, reference: A}\n", 3, "already used at line 2"),
    ("tasks:\n  - {prompt: Q, reference: A}\ntasks:\n  - {prompt: R, reference: A}\n", 3, "duplicate key 'tasks'"),
]


@pytest.mark.parametrize(("text", "line", "expected"), YAML_BAD)
def test_bad_yaml_is_refused_with_file_line_and_why(tmp_path: Path, text: str, line: int, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    message = refused(path, default_check="choice")
    assert message.startswith(f"{path}:{line}") and expected in message


def test_yaml_alias_expansion_is_bounded_and_names_a_task_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_files, "MAX_YAML_NODES", 10_000)
    ten = ", ".join(["*a{}"] * 10)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{ten.format(*[i - 1] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\ntasks:\n  - {prompt: Q, reference: *a8}\n", encoding="utf-8")  # 10^9 nodes once expanded
    message = refused(path, default_check="exact")
    assert "more than 10,000 nodes" in message and "not a task set" in message


CSV_BAD = [
    ("id,prompt,answer\nq,Q,A\n", 1, "unknown column 'answer'"),
    ("id,reference\nq,A\n", 1, "no 'prompt' column"),
    ("prompt,prompt\nQ,Q\n", 1, "appears twice"),
    ("prompt,reference\nQ,A,extra\n", 2, "3 fields, but the header names 2 columns"),
    ("prompt,reference,check\nQ,A,{kind: choice}\n", 2, "not valid JSON"),
    ("prompt,reference,params\nQ,A,max_tokens=5\n", 2, "the params column holds a JSON object"),
    ('prompt,reference\n"Q,A\n', 2, "not valid CSV"),
    ("prompt,reference\n" + "Q," + "x" * 200_000 + "\n", 2, "not valid CSV"),
]


@pytest.mark.parametrize(("text", "line", "expected"), CSV_BAD)
def test_bad_csv_is_refused_with_file_line_and_why(tmp_path: Path, text: str, line: int, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    message = refused(path, default_check="exact")
    assert message.startswith(f"{path}:{line}: ") and expected in message


def test_files_that_are_no_task_set_are_refused_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert refused(empty) == f"{empty}: no tasks: a task set needs at least one task with a prompt"
    assert refused(tmp_path / "none.jsonl").startswith(f"cannot read task set '{tmp_path / 'none.jsonl'}': No such file")
    assert "is a directory" in refused(tmp_path)
    wrong = tmp_path / "tasks.txt"
    wrong.write_text("{}")
    assert "name it .jsonl, .jsonl.gz, .yaml, .yml or .csv" in refused(wrong)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"prompt": "caf\xe9"}\n'.encode("latin-1"))
    assert refused(latin).startswith(f"{latin}:1: not UTF-8 text")
    assert "unknown built-in data set 'builtin:nope'" in refused("builtin:nope")
    empty_csv = tmp_path / "e.csv"
    empty_csv.write_text("")
    assert "an empty CSV file" in refused(empty_csv)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "tasks.jsonl"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(fifo)


def test_a_truncated_gzip_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"prompt": "Q", "reference": "A"}\n' * 1000)[:-30])
    assert "not a readable gzip file" in refused(path, default_check="exact")


def test_long_lines_and_gzip_bombs_stop_at_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_files, "MAX_LINE_BYTES", 1024)
    long_line = jsonl(tmp_path / "long.jsonl", {"prompt": "Q", "reference": "A"}, {"prompt": "x" * 2000, "reference": "A"})
    assert refused(long_line, default_check="exact").startswith(f"{long_line}:2: a line longer than")
    monkeypatch.setattr(task_files, "MAX_JSONL_BYTES", 1024 * 1024)
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b"\n" * (64 * 1024 * 1024)))  # 64 MiB of blank lines in ~64 KiB
    assert "holds more than 1 MiB of text" in refused(bomb, default_check="exact")


def test_every_loaded_set_is_a_frozen_task_set(tmp_path: Path) -> None:
    tasks = load_task_set(jsonl(tmp_path / "t.jsonl", {"prompt": "Q", "reference": "A"}), default_check="exact")
    assert isinstance(tasks, TaskSet)
    with pytest.raises(AttributeError):
        tasks.sha256 = "x"  # type: ignore[misc]


# --- the README's examples -------------------------------------------------------------------


def test_the_readme_task_set_examples_load_as_described(tmp_path: Path) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Task sets and checks", 1)[1].split("\n## ", 1)[0]
    blocks = dict(re.findall(r"```(jsonl|yaml|csv)\n(.*?)```", section, re.S))
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "person.json").write_text('{"type": "object", "required": ["name"]}')
    loaded = {}
    for fmt, text in blocks.items():
        path = tmp_path / f"tasks.{fmt}"
        path.write_text(text, encoding="utf-8")
        loaded[fmt] = load_task_set(path, default_check="exact" if fmt == "csv" else None)
    assert [t.check["kind"] for t in loaded["jsonl"].tasks] == ["choice", "number"] and loaded["jsonl"].tasks[0].system == "Answer with one letter."
    assert [t.check["kind"] for t in loaded["yaml"].tasks] == ["number", "json_schema"]
    assert [t.check["kind"] for t in loaded["csv"].tasks] == ["exact", "choice", "regex"] and loaded["csv"].tasks[0].tags == ("geo", "easy")
    csv_tasks = loaded["csv"]
    assert csv_tasks.check_for(csv_tasks.tasks[2]).verdict("Green, I think", None).correct is True

"""The run's identity and its durable state: which run an invocation resumes, what a row's record
holds, and that nothing half-written ever replaces a good output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmo.app.batch.identity import choose_run, fingerprint_parts, record_run
from mmo.app.batch.input import Malformed
from mmo.app.batch.outcome import DONE, FAILED, INFRA_ERROR, AttemptNumbers, RowOutcome, classify
from mmo.app.batch.output import output_targets, write_errors_report, write_lines_atomically
from mmo.app.batch.state import BatchState
from mmo.app.batch.summary import summarize
from mmo.core.errors import AllAttemptsFailed, BadRequest, ConfigError, ContentFiltered, Overloaded, RateLimited, ServerError, Timeout


def parts(content: str = "c1", profile: dict | None = None, params: dict | None = None) -> dict[str, str]:
    return fingerprint_parts("/data/in.jsonl", content, profile or {"name": "p"}, params or {})


def test_the_same_input_profile_and_params_resume_the_same_run(tmp_path: Path) -> None:
    first = choose_run(tmp_path, parts(), stem="in")
    assert not first.resumed and first.notice is None and first.identity.run_id.startswith("in-")
    record_run(first.identity)
    again = choose_run(tmp_path, parts(), stem="in")
    assert again.resumed and again.identity == first.identity


@pytest.mark.parametrize(
    ("changed", "said"),
    [(parts(content="c2"), "input content"), (parts(profile={"name": "p", "strategy": "x"}), "profile"), (parts(params={"temperature": 0}), "parameters")],
)
def test_a_change_starts_a_new_run_and_says_what_changed(tmp_path: Path, changed: dict[str, str], said: str) -> None:
    old = choose_run(tmp_path, parts(), stem="in")
    record_run(old.identity)
    new = choose_run(tmp_path, changed, stem="in")
    assert not new.resumed and new.identity.run_id != old.identity.run_id
    assert new.notice is not None and f"the {said} changed since run {old.identity.run_id}" in new.notice


def test_a_named_run_made_from_other_input_is_set_aside_not_deleted(tmp_path: Path) -> None:
    old = choose_run(tmp_path, parts(), explicit="nightly")
    record_run(old.identity)
    (old.identity.directory / "marker").write_text("old state")
    assert choose_run(tmp_path, parts(), explicit="nightly").resumed
    new = choose_run(tmp_path, parts(content="c2"), explicit="nightly")
    assert not new.resumed and new.identity.directory == old.identity.directory
    assert new.notice is not None and "input content changed" in new.notice
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("nightly.")]
    assert len(kept) == 1 and (kept[0] / "marker").read_text() == "old state"
    with pytest.raises(ConfigError):
        choose_run(tmp_path, parts(), explicit="../escape")


def outcome(index: int, status: str = DONE, cost: float | None = 0.01, model: str = "p:m", error: str | None = None) -> RowOutcome:
    attempt = AttemptNumbers(model, "ok" if status == DONE else "error", error, 10, 5, cost, True, 100.0 + index, False)
    line = json.dumps({"id": f"r{index}", "status": status})
    return RowOutcome(index, f"r{index}", status, model if status == DONE else None, error, error and f"{error}: boom", cost, 10, 5, 100.0 + index, False, 40, (attempt,), line)


def test_rows_are_committed_with_their_result_and_found_again(tmp_path: Path) -> None:
    with BatchState(tmp_path / "run") as state:
        state.record([outcome(3), outcome(1, INFRA_ERROR, None, error="Timeout")], [Malformed(2, "not valid JSON", "x")])
        state.record([outcome(5, FAILED, 0.0, error="BadRequest")])
    with BatchState(tmp_path / "run") as state:  # reopened: everything survived
        assert list(state.finished_indices([DONE, FAILED])) == [3, 5]
        assert list(state.finished_indices([DONE, FAILED, INFRA_ERROR])) == [1, 3, 5]
        assert [json.loads(line)["id"] for line in state.output_lines(ordered=True)] == ["r1", "r3", "r5"]
        assert [json.loads(line)["id"] for line in state.output_lines(ordered=False)] == ["r3", "r1", "r5"]
        assert state.counts() == {DONE: 1, INFRA_ERROR: 1, FAILED: 1}
        assert [m.line for m in state.malformed()] == [2]


def test_a_retried_row_keeps_what_its_earlier_run_cost(tmp_path: Path) -> None:
    with BatchState(tmp_path / "run") as state:
        state.record([outcome(1, INFRA_ERROR, 0.004, error="StreamCut")])
        state.record([outcome(1, DONE, 0.01)])
        assert state.spent_usd() == pytest.approx(0.014)
        summary = summarize(state, total_rows=1)
    assert (summary.done, summary.infra_errors, summary.cost_usd) == (1, 0, pytest.approx(0.014))


def test_two_invocations_cannot_hold_one_run(tmp_path: Path) -> None:
    with BatchState(tmp_path / "run"), pytest.raises(ConfigError, match="in use by another"):
        BatchState(tmp_path / "run")


def test_infrastructure_errors_are_told_from_undeliverable_answers() -> None:
    assert classify(RateLimited("slow down")) == INFRA_ERROR
    assert classify(AllAttemptsFailed("all", [Timeout("t"), ServerError("s")])) == INFRA_ERROR
    open_circuit = Overloaded("circuit open")
    open_circuit.retryable = False  # the breaker marks it so; it is still the provider's outage
    assert classify(open_circuit) == INFRA_ERROR
    assert classify(BadRequest("bad")) == FAILED
    assert classify(AllAttemptsFailed("all", [Timeout("t"), ContentFiltered("no")])) == FAILED


def test_summary_per_model_and_in_total(tmp_path: Path) -> None:
    with BatchState(tmp_path / "run") as state:
        state.record([outcome(i) for i in range(1, 21)] + [outcome(30, FAILED, 0.0, model="p:m", error="BadRequest")])
        summary = summarize(state, total_rows=25)
    (model,) = summary.models
    assert (model.rows, model.calls, model.errors) == (20, 21, {"BadRequest": 1})
    assert model.p50_ms == 111.0 and model.p95_ms == 120.0
    assert (summary.done, summary.failed, summary.pending, summary.errors) == (20, 1, 4, {"BadRequest": 1})
    assert summary.cost_usd == pytest.approx(0.2)


def test_output_paths_beside_the_input_or_as_asked(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    beside = output_targets(data, None, cwd=tmp_path, run_dir=tmp_path / "run")
    assert (beside.output, beside.errors) == (tmp_path / "in.out.jsonl", tmp_path / "in.errors.jsonl")
    named = output_targets(data, "res/out.jsonl", cwd=tmp_path, run_dir=tmp_path / "run")
    assert (named.output, named.errors) == (tmp_path / "res" / "out.jsonl", tmp_path / "res" / "out.errors.jsonl")
    piped = output_targets(None, None, cwd=tmp_path, run_dir=tmp_path / "run")
    assert (piped.output, piped.errors) == (None, tmp_path / "run" / "errors.jsonl")
    with pytest.raises(ConfigError, match="is the input file"):
        output_targets(data, "in.jsonl", cwd=tmp_path, run_dir=tmp_path / "run")


def test_a_failed_write_leaves_the_good_output_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    write_lines_atomically(target, ['{"id": 1}', '{"id": 2}'])

    def breaks_halfway():  # type: ignore[no-untyped-def]
        yield '{"id": 1}'
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_lines_atomically(target, breaks_halfway())
    assert target.read_text() == '{"id": 1}\n{"id": 2}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left


def test_a_stale_errors_report_is_removed_once_the_input_is_clean(tmp_path: Path) -> None:
    report = tmp_path / "in.errors.jsonl"
    assert write_errors_report(report, [Malformed(3, "not valid JSON", "x")]) == report
    assert json.loads(report.read_text()) == {"line": 3, "reason": "not valid JSON", "text": "x"}
    assert write_errors_report(report, []) is None and not report.exists()
    mine = tmp_path / "notes.errors.jsonl"
    mine.write_text("my own notes\n")
    write_errors_report(mine, [])
    assert mine.exists()  # not ours: left alone

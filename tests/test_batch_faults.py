"""Faults are not amplified in ``mmo batch`` (real loopback HTTP): other rows' failures make a
row wait, never fail it; a row fails only after its own retries; a Retry-After past the patience
fails rows as retryable at once instead of holding the batch."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.batch_harness import MODEL, read_jsonl, run_cli, write_rows
from tests.support.loopback import Fault, LoopbackServer


def single_model_profile(directory: Path, server: LoopbackServer, *, cooldown_s: float = 0.5, attempts: int = 2) -> Path:
    path = directory / "single.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: single
            providers:
              loop: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}
            models:
              m: {{model: "loop:{MODEL}", price: {{input: 1, output: 2}}}}
            defaults: {{timeout_s: 2, max_tokens: 16}}
            limits:
              m: {{breaker: {{failures: 3, window_s: 60, cooldown_s: {cooldown_s}}}}}
            retry: {{attempts: {attempts}, backoff_s: 0.01, max_backoff_s: 0.05, max_retry_after_s: 5}}
            strategy: m
            """
        )
    )
    return path


def test_a_circuit_opened_by_some_rows_makes_the_others_wait_not_fail(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script(MODEL, *[Fault.server_error()] * 5)  # the first five requests, sent together
    rows = write_rows(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    result = run_cli(str(rows), "--profile", str(single_model_profile(tmp_path, loopback)), "-c", "5", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert [line["status"] for line in read_jsonl(out)] == ["done"] * 10
    # Every row was sent: the five that failed once were retried, nobody failed on the open circuit.
    assert loopback.calls_by(r"row-(\d+)\b") == {**{str(i): 2 for i in range(5)}, **{str(i): 1 for i in range(5, 10)}}


def test_a_row_fails_only_after_its_own_retries(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script(MODEL, Fault.server_error(), Fault.server_error())
    rows = write_rows(tmp_path / "in.jsonl", 1)
    out = tmp_path / "out.jsonl"
    result = run_cli(str(rows), "--profile", str(single_model_profile(tmp_path, loopback)), "-c", "1", "-o", str(out))
    assert result.exit_code == 1
    (line,) = read_jsonl(out)
    assert line["status"] == "infra_error" and line["error"]["class"] == "ServerError"
    assert loopback.stats().total == 2  # both of its attempts were sent


def test_a_day_long_retry_after_fails_rows_as_retryable_instead_of_holding_the_batch(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script(MODEL, Fault.rate_limited(retry_after_s=86400))
    rows = write_rows(tmp_path / "in.jsonl", 4)
    out = tmp_path / "out.jsonl"
    result = run_cli(str(rows), "--profile", str(single_model_profile(tmp_path, loopback)), "-c", "1", "-o", str(out))
    assert result.exit_code == 1
    lines = read_jsonl(out)
    assert [line["status"] for line in lines] == ["infra_error"] * 4  # --retry-errors sends them again
    assert [line["error"]["class"] for line in lines] == ["RateLimited"] * 4
    assert loopback.stats().total == 1  # the pause holds for the rest of the run: nothing more was sent

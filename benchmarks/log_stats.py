"""``mmo logs stats`` on a large run log: 200,000 runs of 5 attempts each (1,000,000 attempts),
written by the real run-log code, then every grouping timed (``RunLog.usage_by``, what the command
runs) and the whole command once::

    python -m benchmarks.log_stats [--runs 200000]

Prints the seconds each took and the log's size.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord, new_run_id, utc_iso

MODELS = ("openai:gpt-5-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash", "groq:llama-4", "ollama:llama3.1:8b")


def fill(log: RunLog, runs: int, rng: random.Random) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    batch: list[tuple[RunRecord, list[AttemptRecord]]] = []
    for n in range(runs):
        run_id = new_run_id()
        started = utc_iso(start + timedelta(seconds=n * 30 * 86400 / runs))
        attempts = [
            AttemptRecord(run_id=run_id, seq=seq, node_path="fallback", model_id=model, status="ok" if rng.random() > 0.05 else "error",
                          error_class=None, error_message=None, input_tokens=rng.randint(50, 900), output_tokens=rng.randint(10, 400),
                          cached_tokens=0, reasoning_tokens=0, cost_usd=rng.random() / 1000 if model != "groq:llama-4" else None,
                          cost_source="test", latency_ms=rng.uniform(50, 3000), ttft_ms=None, cache_hit=False)
            for seq, model in enumerate(MODELS)
        ]
        run = RunRecord(run_id=run_id, started_at=started, command="batch", profile=f"profile-{n % 4}", strategy="fallback", prompt=None,
                        answer=None, model_id=MODELS[0], status="ok", input_tokens=0, output_tokens=0)
        batch.append((run, attempts))
        if len(batch) == 5000:
            log.record_many(batch)
            batch.clear()
    if batch:
        log.record_many(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "runs.db"
        began = time.perf_counter()
        with RunLog(path) as log:
            fill(log, args.runs, random.Random(7))
        print(f"wrote {args.runs:,} runs, {args.runs * len(MODELS):,} attempts in {time.perf_counter() - began:.1f} s "
              f"({path.stat().st_size / 2**20:.0f} MiB)")
        with RunLog(path) as log:
            for key in ("day", "model", "provider", "profile"):
                began = time.perf_counter()
                groups = log.usage_by(key)
                print(f"usage_by({key!r}): {len(groups)} groups in {time.perf_counter() - began:.2f} s")
            began = time.perf_counter()
            log.usage_by("model", since=utc_iso(datetime.now(UTC) - timedelta(days=7)))
            print(f"usage_by('model', since 7 days): {time.perf_counter() - began:.2f} s")


if __name__ == "__main__":
    main()

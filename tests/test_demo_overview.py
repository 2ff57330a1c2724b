"""The demo's overview is a real bench of the bundled sample: its figures are the ones the
recorded answers give, and its showcase question is one the cheap model got wrong and the
routing profile got right, run live with its trace."""

from __future__ import annotations

import asyncio
import gzip
import json
from importlib import resources
from pathlib import Path

from mmo.app.demo import DEMO_MODELS, demo_overview
from mmo.app.settings import AppEnv
from mmo.core.paths import MmoPaths
from mmo.strategies.extract import extract

SAMPLE = [json.loads(line) for line in gzip.decompress(resources.files("mmo").joinpath("data/mmlu_pro_sample.jsonl.gz").read_bytes()).decode().splitlines()]


def test_the_overview_is_the_sample_benched_and_one_question_that_shows_the_point(tmp_path: Path) -> None:
    environ = {"MMO_HOME": str(tmp_path / "home")}
    overview = asyncio.run(demo_overview(AppEnv(environ, tmp_path, MmoPaths.from_env(environ), notice=lambda _: None), profiles=("cascade-agree",)))
    targets = {t.target: t for t in overview.summary.targets}
    assert set(targets) == {*DEMO_MODELS, "profile:cascade-agree"}
    # Each single model's accuracy is what its recorded texts give under the one extractor.
    flash_right = sum(extract(row["models"]["gemini-1.5-flash-002"]["text"], "choice") == row["reference"] for row in SAMPLE)
    assert targets["flash"].correct == flash_right and targets["flash"].tasks == len(SAMPLE)
    assert targets["gpt4o"].cost_usd is not None and targets["flash"].cost_usd is not None
    assert targets["flash"].cost_usd < targets["gpt4o"].cost_usd

    row = next(r for r in SAMPLE if r["id"] == overview.task.id)
    assert overview.cheap_answer.correct is False and extract(row["models"]["gemini-1.5-flash-002"]["text"], "choice") != row["reference"]
    assert overview.routed_correct is True and overview.routed_letter == row["reference"]
    assert overview.routed.completion is not None and len(list(overview.routed.trace.attempts())) >= 2  # it escalated

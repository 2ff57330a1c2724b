"""The offline demo's question picker: a task from the replay file the 'demo' profile uses."""

from __future__ import annotations

from dataclasses import dataclass

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import UnknownName
from mmo.core.types import frozen_mapping

DEMO_REPLAY = "builtin:mmlu_pro_sample"


@dataclass(frozen=True, slots=True)
class DemoTask:
    id: str
    prompt: str


def demo_task(task_id: str | None) -> DemoTask:
    """The named task, or the sample's first one."""
    from mmo.providers.replay import ReplayProvider

    settings = ProviderSettings("replay", "replay", needs_key=False, options=frozen_mapping({"path": DEMO_REPLAY}))
    provider = ReplayProvider(settings)
    ids = provider.task_ids()
    chosen = task_id or ids[0]
    if chosen not in ids:
        raise UnknownName("demo task", chosen, ids)
    return DemoTask(chosen, provider.prompt_for(chosen))

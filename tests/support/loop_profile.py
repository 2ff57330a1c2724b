"""A profile of one priced model on a loopback server, for the tests and benchmarks that run
``mmo`` processes against it: ``rpm`` limits the model (shared through ``MMO_STATE_URL`` when
the processes have one), and Retry-After waits of up to 10 minutes are taken, not refused."""

from __future__ import annotations

from pathlib import Path

from tests.support.loopback import LoopbackServer

MODEL = "loop:fake-model"


def loop_profile(path: Path, server: LoopbackServer, *, rpm: int | None = None) -> Path:
    lines = [
        "providers:",
        f'  loop: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}',
        "models:",
        f'  m: {{model: "{MODEL}", price: {{input: 0.1, output: 0.1}}}}',
        "retry: {max_retry_after_s: 600}",
        "strategy: m",
    ]
    if rpm is not None:
        lines += ["limits:", f"  m: {{rpm: {rpm}}}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

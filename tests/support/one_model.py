"""A profile of one model (``a``, served as ``p:m``) on the loopback server's OpenAI endpoint."""

from __future__ import annotations

from pathlib import Path

from tests.support.loopback import LoopbackServer


def one_model_profile(directory: Path, server: LoopbackServer) -> Path:
    path = directory / "p.yaml"
    path.write_text(
        f'providers:\n  p: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}\n'
        'models:\n  a: {model: "p:m", price: {input: 1, output: 2}, capabilities: {vision: true}}\nstrategy: a\n'
    )
    return path

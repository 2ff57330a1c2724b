"""``mmo demo``: a recorded MMLU-Pro question through an offline profile, no key needed."""

from typing import Annotated

import typer

from mmo.cli.options import DebugOption, ExplainOption


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    task: Annotated[str | None, typer.Option("--id", help="A task id from the bundled MMLU-Pro sample (default: the first).")] = None,
    profile: Annotated[str, typer.Option("--profile", "-P", help="An offline profile: demo, cascade, cascade-agree, router, vote, hedge.")] = "demo",
    explain: ExplainOption = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    debug: DebugOption = False,
) -> None:
    """Offline demo: a recorded MMLU-Pro question through an offline profile (default 'demo'). No key needed."""
    from mmo.cli.ask_run import AskView, run_demo
    from mmo.cli.errors import guarded

    guarded(debug, lambda: run_demo(task, profile=profile, view=AskView(stream=False, json_out=json_out, explain=explain)))

"""``mmo demo``: offline, no key needed. Without options: the bundled MMLU-Pro sample through
every recorded model and the routing profiles, and one question with its trace
(``mmo.cli.demo_run``); with ``--id`` / ``-P`` / ``--json`` / ``--explain``: one recorded question
through an offline profile, as ``mmo ask`` shows it."""

from typing import Annotated

import typer

from mmo.cli.options import DebugOption, ExplainOption


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    task: Annotated[str | None, typer.Option("--id", help="A task id from the bundled MMLU-Pro sample (default: the first).")] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", "-P", help="One question through an offline profile: demo, cascade, cascade-agree, tuned, router, vote, hedge.")
    ] = None,
    explain: ExplainOption = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    debug: DebugOption = False,
) -> None:
    """Offline demo, no key needed: 300 recorded MMLU-Pro questions through eight models and the
    profiles that route between them (accuracy, cost, the frontier), and one question with its
    routing trace. With --id, -P, --json or --explain: one question through one profile.

    Examples:

      mmo demo

      mmo demo --id mmlu_pro-153 -P cascade-agree --explain
    """
    from mmo.cli.errors import guarded

    def action() -> None:
        if task is None and profile is None and not json_out and not explain:
            from mmo.cli.demo_run import run_demo_overview

            run_demo_overview()
            return
        from mmo.cli.ask_run import AskView, run_demo

        run_demo(task, profile=profile or "demo", view=AskView(stream=False, json_out=json_out, explain=explain))

    guarded(debug, action)

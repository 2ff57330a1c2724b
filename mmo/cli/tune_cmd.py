"""``mmo tune``: the command's options; ``mmo.cli.tune_run`` runs it and renders the result,
loaded only when the command runs (``mmo --help`` imports this module, so it stays small)."""

from typing import Annotated

import typer

from mmo.cli.options import DebugOption, JsonOption, positive_amount


def register(app: typer.Typer) -> None:
    app.command("tune")(tune)


def percent(value: str | float) -> float:
    """``--min-accuracy``: a percentage above 0, at most 100."""
    number = positive_amount(value)
    if number > 100:
        raise typer.BadParameter(f"{value!r} is a percentage: at most 100")
    return number


def tune(
    bench: Annotated[str, typer.Argument(metavar="BENCH", help="A bench run: its id, 'latest' (the default), its directory or its results.jsonl.")] = "latest",
    name: Annotated[str | None, typer.Option("--name", help="Write the chosen strategy as profile NAME in your profile directory.")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", metavar="FILE", help="Write the chosen strategy to this .yaml file instead.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a profile (and its router model) already there.")] = False,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", metavar="USD", parser=positive_amount, help="Choose the most accurate strategy at no more than USD per task.")
    ] = None,
    min_accuracy: Annotated[
        float | None, typer.Option("--min-accuracy", metavar="PCT", parser=percent, help="Choose the cheapest strategy at PCT % accuracy or more.")
    ] = None,
    beat: Annotated[
        str | None,
        typer.Option("--beat", metavar="PROFILE", help="Choose the most accurate strategy that beats this profile on train (more accurate at no more cost, or as accurate for less)."),
    ] = None,
    frontier: Annotated[bool, typer.Option("--frontier", help="List the cost/accuracy frontier on train; choose and write nothing.")] = False,
    models: Annotated[str | None, typer.Option("--models", help="Tune over these benchmarked models only (comma-separated, as the bench names them).")] = None,
    replay_data: Annotated[
        str | None,
        typer.Option(
            "--replay-data",
            metavar="NAME|PATH",
            help="Recorded data the written profile's replay providers read: mmlu_pro, mmlu_pro_sample or a replay file (default: the bench's).",
        ),
    ] = None,
    no_learned: Annotated[bool, typer.Option("--no-learned", help="Leave out the learned router and learned gates (a faster search).")] = False,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Find the best strategy over a bench run's models from its stored answers (no new calls):
    chosen on the train split, measured on the test split, written as a profile with --name.

    By default it matches the best single model's accuracy at the lowest cost; --max-cost,
    --min-accuracy, --beat and --frontier ask for something else.

    Examples:

      mmo tune

      mmo tune latest --name mine --min-accuracy 70
    """
    from mmo.cli.errors import guarded
    from mmo.cli.tune_run import TuneArgs, run_tune

    args = TuneArgs(bench, name, output, force, max_cost, min_accuracy, beat, frontier, models, replay_data, not no_learned, json_out)
    guarded(debug, lambda: run_tune(args))

"""``mmo jobs``: provider batch jobs after ``mmo batch IN.jsonl --provider-batch`` submitted them:
list the runs, show a run's jobs, wait for them, collect their answers, cancel them.
``mmo.cli.jobs_run`` does the work and renders it."""

from typing import Annotated, Callable

import typer

from mmo.cli.options import DebugOption

app = typer.Typer(
    help=(
        "Provider batch jobs (submitted with `mmo batch IN.jsonl --provider-batch`): show, wait, collect, cancel.\n\n"
        "Examples:\n\n  mmo jobs show\n\n  mmo jobs wait --collect\n\n  mmo jobs collect nightly -o answers.jsonl"
    ),
    no_args_is_help=True,
)

RunArgument = Annotated[str | None, typer.Argument(metavar="[RUN]", help="A run id or a unique prefix (default: the newest run with jobs).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on standard output.")]


@app.command("list")
def list_runs(json_out: JsonOption = False, debug: DebugOption = False) -> None:
    """Runs with provider batch jobs, newest first: their jobs by state and rows."""
    from mmo.cli.jobs_run import list_command

    _guarded(debug, lambda: list_command(json_out))


@app.command()
def show(run: RunArgument = None, json_out: JsonOption = False, debug: DebugOption = False) -> None:
    """A run's jobs, as the vendors report them now: state, requests, done and failed counts."""
    from mmo.cli.jobs_run import show_command

    _guarded(debug, lambda: show_command(run, json_out))


@app.command()
def wait(
    run: RunArgument = None,
    collect: Annotated[bool, typer.Option("--collect", help="Collect the answers once every job ended.")] = False,
    poll: Annotated[float, typer.Option("--poll", metavar="SECONDS", min=0.0, help="First wait between checks; each next wait is 1.5 times longer, at most 5 minutes.")] = 30.0,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", min=0.0, help="Stop waiting after this long (exit 75 when jobs still run).")] = None,
    debug: DebugOption = False,
) -> None:
    """Wait for a run's jobs to end, checking with back-off and showing their progress."""
    from mmo.cli.jobs_run import wait_command

    _guarded(debug, lambda: wait_command(run, collect=collect, poll_s=poll, timeout_s=timeout))


@app.command()
def collect(run: RunArgument = None, json_summary: Annotated[bool, typer.Option("--json", help="Print the batch summary as JSON.")] = False,
            debug: DebugOption = False) -> None:
    """Read the ended jobs' answers and write the run's output, as a live `mmo batch` would
    (answers at the batch price; rows a job did not answer stay for `--retry-errors`)."""
    from mmo.cli.jobs_run import collect_command

    _guarded(debug, lambda: collect_command(run, json_summary))


@app.command()
def cancel(run: RunArgument = None, debug: DebugOption = False) -> None:
    """Cancel a run's jobs that have not ended (answers they already have are still collected)."""
    from mmo.cli.jobs_run import cancel_command

    _guarded(debug, lambda: cancel_command(run))


def _guarded(debug: bool, action: Callable[[], None]) -> None:
    from mmo.cli.errors import guarded

    guarded(debug, action)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="jobs")

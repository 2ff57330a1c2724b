"""``mmo ask``: the command's options; ``mmo.cli.ask_run`` runs it and renders the result, loaded
only when the command runs (``mmo --help`` imports this module, so it stays small)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mmo.cli.options import (
    DebugOption,
    ExplainOption,
    FailFastOption,
    ModelOption,
    NoCacheOption,
    ParamOption,
    ProfileOption,
    RefreshOption,
    ReplayDataOption,
    SimulateOutageOption,
    run_settings,
)

if TYPE_CHECKING:
    from mmo.app.conversation import ContinueFrom


def _continue_from(latest: bool, cid: str | None) -> "ContinueFrom | None":
    from mmo.app.conversation import ContinueFrom
    from mmo.core.errors import ConfigError

    if latest and cid is not None:
        raise ConfigError("--continue goes on with the newest conversation, --cid with the one it names: give one of them")
    return ContinueFrom(latest=latest, cid=cid) if latest or cid is not None else None


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)


def ask(
    prompt: Annotated[str | None, typer.Argument(help="The prompt; read from standard input when absent or '-'.")] = None,
    profile: ProfileOption = None,
    model: ModelOption = None,
    replay_data: ReplayDataOption = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    param: ParamOption = [],
    continue_: Annotated[bool, typer.Option("--continue", "-c", help="Go on with the newest conversation (its turns are sent before this prompt).")] = False,
    cid: Annotated[str | None, typer.Option("--cid", help="Go on with this conversation (an id or a unique prefix, from `mmo logs` or --json).")] = None,
    attach: Annotated[list[str], typer.Option("--attach", "-a", help="An image (PNG, JPEG, WebP, GIF) to send with the prompt; repeatable; '-' reads it from standard input.")] = [],
    schema: Annotated[Path | None, typer.Option("--schema", help="A JSON Schema file (JSON or YAML): the answer must be JSON matching it; it is validated, and printed as JSON alone.")] = None,
    tools: Annotated[Path | None, typer.Option("--tools", help="A JSON file of tools the model may call (a list of {name, description, parameters}; OpenAI and Anthropic forms too).")] = None,
    tool_choice: Annotated[str | None, typer.Option("--tool-choice", help="With --tools: auto, required, none, or a tool's name.")] = None,
    meta: Annotated[list[str], typer.Option("--meta", help="Request metadata key=value (router rules, replay ids).")] = [],
    tag: Annotated[list[str], typer.Option("--tag", help="A tag for router rules and the run log.")] = [],
    stream: Annotated[bool | None, typer.Option("--stream/--no-stream", help="Stream the answer (default: when stdout is a terminal).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object (answer, models, cost, trace); nothing partial.")] = False,
    explain: ExplainOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="The answer alone: no warnings, no table (errors still say why).")] = False,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    no_log: Annotated[bool, typer.Option("--no-log", help="Keep prompt and answer text out of the run log; run past a run log that cannot be used.")] = False,
    fail_fast: FailFastOption = False,
    simulate_outage: SimulateOutageOption = [],
    debug: DebugOption = False,
) -> None:
    """Answer one prompt through a profile's strategy and show which model answered, why, and the cost.

    Examples:

      mmo ask -P fast "What is the capital of France?"

      git diff | mmo ask "Review this change"

      mmo ask -c "And in two sentences?"

      mmo ask -P multimodal --attach photo.png "What is in it?"
    """
    from mmo.app.settings import AppEnv
    from mmo.app.user_config import default_output
    from mmo.cli.ask_run import AskView, ToolsChoice, run_ask
    from mmo.cli.errors import guarded

    def action() -> None:
        settings = run_settings(
            profile, model, param, no_cache=no_cache, refresh=refresh, fail_fast=fail_fast, simulate_outage=simulate_outage, replay_data=replay_data
        )
        view = AskView(stream=stream, json_out=json_out, explain=explain, quiet=quiet)
        if not (json_out or explain or quiet):  # no flag chose: MMO_OUTPUT, then the config's `output`
            view = view.styled(default_output(AppEnv.from_process()))
        run_ask(prompt, settings, system=system, meta=meta, tags=tag, log_text=not no_log, view=view, tools=ToolsChoice(tools, tool_choice), schema=schema, attach=attach,
                continue_from=_continue_from(continue_, cid))

    guarded(debug, action)

"""``mmo chat``: an interactive conversation. ``mmo.cli.chat_run`` runs it (loaded only then)."""

from typing import Annotated

import typer

from mmo.cli.options import DebugOption, FailFastOption, ModelOption, NoCacheOption, ParamOption, ProfileOption, ReplayDataOption, run_settings


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)


def chat(
    profile: ProfileOption = None,
    model: ModelOption = None,
    replay_data: ReplayDataOption = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt for the conversation.")] = None,
    param: ParamOption = [],
    continue_: Annotated[bool, typer.Option("--continue", "-c", help="Go on with the newest conversation.")] = False,
    cid: Annotated[str | None, typer.Option("--cid", help="Go on with this conversation (an id or a unique prefix).")] = None,
    no_cache: NoCacheOption = False,
    no_log: Annotated[bool, typer.Option("--no-log", help="Keep the turns' text out of the run log (they cannot be continued later).")] = False,
    fail_fast: FailFastOption = False,
    debug: DebugOption = False,
) -> None:
    """Talk with a profile, turn by turn: each turn is routed through its strategy, with the model
    and cost shown after it. Type !multi for several lines (end with !end), !quit or Ctrl-D to
    leave; Ctrl-C cancels the turn in flight, not the conversation.

    Examples:

      mmo chat -P fast

      mmo chat --continue
    """
    from mmo.cli.chat_run import run_chat
    from mmo.cli.errors import guarded

    def action() -> None:
        settings = run_settings(profile, model, param, no_cache=no_cache, refresh=False, fail_fast=fail_fast, simulate_outage=[], replay_data=replay_data)
        run_chat(settings, system=system, continue_latest=continue_, cid=cid, log_text=not no_log)

    guarded(debug, action)

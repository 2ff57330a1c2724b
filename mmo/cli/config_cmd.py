"""``mmo config show|set|unset``: the user's defaults (profile, model, batch concurrency, ask output style) in the
user config dir's ``config.toml``. A flag wins over the environment variable, which wins over the
file (``mmo.app.user_config``)."""

import typer

from mmo.cli.options import JsonOption

app = typer.Typer(
    help="Defaults without editing files: profile, model, concurrency, output style (a flag wins, then the environment, then this file).",
    no_args_is_help=True,
    epilog="Examples: `mmo config set profile fast`; `mmo config set concurrency 4`; `mmo config set output quiet`; `mmo config show --json`.",
)


@app.command("show")
def show(json_out: JsonOption = False) -> None:
    """Each default in force, and where it comes from (environment, config file or built-in)."""
    from mmo.cli.errors import guarded

    def action() -> None:
        from mmo.app.settings import AppEnv
        from mmo.app.user_config import SETTINGS, config_path, effective, load_config, shown_value

        env = AppEnv.from_process()
        found = load_config(env)
        rows = [effective(env, key, found) for key in SETTINGS]
        if json_out:
            import json

            listed = {row.key: {"value": shown_value(row.key, row.value), "source": row.source, "env_var": SETTINGS[row.key].env_var} for row in rows}
            typer.echo(json.dumps({"file": str(config_path(env)), "settings": listed}, indent=2))
            return
        typer.echo(f"file: {config_path(env)}")
        for row in rows:
            value = "-" if row.value is None else shown_value(row.key, row.value)
            typer.echo(f"{row.key:12} {value!s:24} {row.source:20} ({SETTINGS[row.key].env_var}: {SETTINGS[row.key].help})")

    guarded(False, action)


@app.command("set")
def set_(
    key: str = typer.Argument(..., metavar="KEY", help="A setting: profile, model, concurrency, key_file, state, output."),
    value: str = typer.Argument(..., metavar="VALUE", help="The new default."),
) -> None:
    """Set a default in the config file (written whole, atomically)."""
    from mmo.cli.errors import guarded

    def action() -> None:
        from mmo.app.settings import AppEnv
        from mmo.app.user_config import SETTINGS, set_value, shown_value

        env = AppEnv.from_process()
        path = set_value(env, key, value)
        typer.echo(f"{key} = {shown_value(key, value)} in {path}")
        env_var = SETTINGS[key].env_var
        if env.environ.get(env_var, "").strip():
            typer.echo(f"note: {env_var} is set in this environment and takes precedence", err=True)

    guarded(False, action)


@app.command("unset")
def unset(key: str = typer.Argument(..., metavar="KEY", help="The default to remove.")) -> None:
    """Remove a default from the config file."""
    from mmo.cli.errors import guarded

    def action() -> None:
        from mmo.app.settings import AppEnv
        from mmo.app.user_config import unset_value

        removed = unset_value(AppEnv.from_process(), key)
        typer.echo(f"removed {key}" if removed else f"{key} was not set")

    guarded(False, action)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="config")

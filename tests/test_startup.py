"""Start-up: a profile that passed its checks is read back from the profile cache (no YAML
parsing, no schema build) exactly when nothing it depends on changed; the CLI leaves out the
imports it never uses (httpx's own command line, rich's markdown and tracebacks for help).
Timings are in ``benchmarks/startup_vs_llm.py``, never here."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mmo.config.loader import check_source, load_profile
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from tests.support.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "models:\n  m: {model: 'openai:gpt-4o-mini'}\nstrategy: m\n"


def paths_in(tmp_path: Path) -> MmoPaths:
    return MmoPaths.from_env({"MMO_HOME": str(tmp_path / "home")})


def entries(paths: MmoPaths) -> list[Path]:
    folder = paths.profile_cache_dir
    return sorted(folder.glob("*.pickle")) if folder.exists() else []


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    return file


def test_a_valid_profile_is_remembered_owner_only_and_read_back(tmp_path: Path) -> None:
    paths, file = paths_in(tmp_path), write(tmp_path, PROFILE)
    first = load_profile(str(file), cwd=tmp_path, paths=paths)
    [entry] = entries(paths)
    assert entry.stat().st_mode & 0o777 == 0o600
    # What the entry holds is what a later load returns (a different profile planted there shows it is read).
    planted = first.profile.model_copy(update={"description": "from the cache"})
    entry.write_bytes(pickle.dumps(planted))
    entry.chmod(0o600)
    again = load_profile(str(file), cwd=tmp_path, paths=paths)
    assert again.profile.description == "from the cache"
    assert again.profile.strategy == first.profile.strategy and again.text == first.text


def test_an_edited_profile_is_read_afresh(tmp_path: Path) -> None:
    paths, file = paths_in(tmp_path), write(tmp_path, PROFILE)
    load_profile(str(file), cwd=tmp_path, paths=paths)
    file.write_text(PROFILE.replace("gpt-4o-mini", "gpt-4o"), encoding="utf-8")
    loaded = load_profile(str(file), cwd=tmp_path, paths=paths)
    entry = loaded.profile.model_entry("m")
    assert entry is not None and entry.model == "openai:gpt-4o"
    assert len(entries(paths)) == 1  # the entry of the old text is gone
    assert load_profile(str(file), cwd=tmp_path, paths=paths).profile == loaded.profile


def test_the_same_text_elsewhere_is_its_own_entry(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = load_profile(str(write(tmp_path / "a", PROFILE)), cwd=tmp_path, paths=paths)
    two = load_profile(str(write(tmp_path / "b", PROFILE, "q.yaml")), cwd=tmp_path, paths=paths)
    assert (one.profile.name, two.profile.name) == ("p", "q")  # the name comes from the file
    assert len(entries(paths)) == 2


@pytest.mark.parametrize("damage", ["garbage", "not a profile", "writable by others"])
def test_a_damaged_or_foreign_entry_is_ignored(tmp_path: Path, damage: str) -> None:
    paths, file = paths_in(tmp_path), write(tmp_path, PROFILE)
    first = load_profile(str(file), cwd=tmp_path, paths=paths)
    [entry] = entries(paths)
    if damage == "garbage":
        entry.write_bytes(b"\x80\x05not a pickle")
    elif damage == "not a profile":
        entry.write_bytes(pickle.dumps({"strategy": "elsewhere"}))
    else:
        entry.write_bytes(pickle.dumps(first.profile.model_copy(update={"description": "planted"})))
        entry.chmod(0o666)
    loaded = load_profile(str(file), cwd=tmp_path, paths=paths)
    assert loaded.profile == first.profile and loaded.profile.description == ""
    [rewritten] = entries(paths)
    assert rewritten.stat().st_mode & 0o777 == 0o600  # read afresh, then remembered again


def test_a_profile_with_headers_or_credentials_in_a_url_is_never_remembered(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    headers = "providers:\n  lab: {kind: openai, base_url: 'http://127.0.0.1:9/v1', key: none, headers: {X-Tenant: t-123}}\nstrategy: lab:m\n"
    userinfo = "providers:\n  lab: {kind: openai, base_url: 'http://user:pw@127.0.0.1:9/v1', key: none}\nstrategy: lab:m\n"
    for number, text in enumerate((headers, userinfo)):
        load_profile(str(write(tmp_path, text, f"h{number}.yaml")), cwd=tmp_path, paths=paths)
    assert entries(paths) == []


def test_an_invalid_profile_is_not_remembered_and_fails_as_before(tmp_path: Path) -> None:
    paths, file = paths_in(tmp_path), write(tmp_path, "strategy: {fallback: [nowhere:m], retyr: {}}\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(str(file), cwd=tmp_path, paths=paths)
    assert "retyr" in caught.value.message
    assert entries(paths) == []


def test_a_remembered_profile_still_reads_the_files_its_tree_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a gate's schema file is read relative to the current directory
    schema = write(tmp_path, '{"type": "object"}', "answer.json")
    text = "models:\n  m: {model: 'openai:gpt-4o-mini'}\nstrategy:\n  cascade: [m, m]\n  accept: {json_schema: answer.json}\n"
    paths, file = paths_in(tmp_path), write(tmp_path, text)
    load_profile(str(file), cwd=tmp_path, paths=paths)
    assert len(entries(paths)) == 1
    schema.unlink()
    with pytest.raises(ConfigError) as remembered:
        load_profile(str(file), cwd=tmp_path, paths=paths)
    fresh = check_source(load_profile.__globals__["find_profile"](str(file), cwd=tmp_path, paths=paths))
    assert "answer.json" in remembered.value.message and "cannot read it" in remembered.value.message
    assert str(remembered.value) == str(fresh.error())  # the same error, at the same line, as without the cache


def run_python(code: str, env: dict[str, str | None] | None = None) -> str:
    """stdout of ``code`` in a fresh interpreter; ``env`` adds variables (``None``: removes one)."""
    merged = {**os.environ, **(env or {})}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={key: value for key, value in merged.items() if value is not None})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_remembered_profile_is_loaded_without_yaml_or_a_schema_build(tmp_path: Path) -> None:
    file = write(tmp_path, PROFILE)
    code = f"""
        import sys
        from pathlib import Path
        from mmo.config.loader import load_profile
        from mmo.config.schema import Profile
        from mmo.core.paths import MmoPaths
        paths = MmoPaths.from_env({{"MMO_HOME": {str(tmp_path / "home")!r}}})
        loaded = load_profile({str(file)!r}, cwd=Path.cwd(), paths=paths)
        print(loaded.profile.strategy, Profile.__pydantic_complete__, "yaml" in sys.modules)
    """
    assert run_python(code).split() == ["m", "True", "True"]  # the first load validates
    assert run_python(code).split() == ["m", "False", "False"]  # the second reads the cache only


def test_the_profile_schema_is_built_on_first_use_with_every_kind() -> None:
    code = """
        from mmo.config.schema import Profile
        built_at_import = Profile.__pydantic_complete__
        schema = Profile.model_json_schema()
        profile = Profile(name="x", strategy={"fallback": ["a:b", {"cascade": ["a:b", "c:d"]}]})
        print(built_at_import, Profile.__pydantic_complete__, "cascade" in str(schema), type(profile.strategy).__name__)
    """
    assert run_python(code).split() == ["False", "True", "True", "FallbackSpec"]


def test_a_profile_read_from_the_cache_validates_like_one_read_afresh(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    for builtin in sorted((ROOT / "mmo" / "profiles").glob("*.yaml")):
        fresh = load_profile(str(builtin), cwd=tmp_path, paths=paths)
        remembered = load_profile(str(builtin), cwd=tmp_path, paths=paths)
        assert isinstance(remembered.profile, Profile) and remembered.profile == fresh.profile, builtin.name
    assert len(entries(paths)) == len(list((ROOT / "mmo" / "profiles").glob("*.yaml")))


def test_help_renders_without_rich_markdown_and_both_still_work_afterwards() -> None:
    code = """
        import sys, typer
        from typer.testing import CliRunner
        from mmo.cli import lean_help
        from mmo.cli.main import app
        lean_help.install()
        result = CliRunner().invoke(app, ["ask", "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, result.output
        print("markdown loaded by help:", "rich.markdown" in sys.modules, "rich.traceback" in sys.modules)
        from typer import rich_utils
        shown = typer.Typer(rich_markup_mode="markdown")
        @shown.command()
        def hello() -> None:
            '''Say **hello** in `markdown`.'''
        @shown.command()
        def other() -> None:
            '''Another.'''
        out = CliRunner().invoke(shown, ["hello", "--help"]).output
        print("markdown rendered:", "**" not in out and "hello" in out, "rich.markdown" in sys.modules)
        try:
            raise ValueError("boom")
        except ValueError as error:
            tb = rich_utils.Traceback.from_exception(type(error), error, error.__traceback__)
        import rich.traceback
        print("traceback real:", type(tb) is rich.traceback.Traceback)
    """
    lines = run_python(code, {"NO_COLOR": "1", "COLUMNS": "100"}).splitlines()
    assert lines == ["markdown loaded by help: False False", "markdown rendered: True True", "traceback real: True"]


@pytest.mark.parametrize("plugins", ["unset", ""])
def test_the_cli_never_imports_httpx_command_line_nor_pydantic_plugins(tmp_path: Path, loopback: LoopbackServer, plugins: str) -> None:
    profile = write(tmp_path, f"providers:\n  loop: {{kind: openai, base_url: '{loopback.openai_base_url}', key: none}}\n"
                              "models:\n  m: {model: 'loop:m', price: {input: 1, output: 2}}\nstrategy: m\n")  # priced here: no price library
    code = f"""
        import atexit, sys
        def report():
            loader = sys.modules.get("pydantic.plugin._loader")
            print("\\nhttpx:", "httpx" in sys.modules, "its cli:", sys.modules.get("httpx._main", "absent") is not None,
                  "plugin loader:", getattr(loader, "__file__", None) is not None, "metadata:", "importlib.metadata" in sys.modules)
        atexit.register(report)
        sys.argv = ["mmo", "ask", "--profile", {str(profile)!r}, "--no-cache", "hello there"]
        from mmo.cli.entry import run
        run()
    """
    # "": the user wants pydantic's plugins, so they are looked for as pydantic does.
    wanted = None if plugins == "unset" else plugins
    out = run_python(code, {"MMO_HOME": str(tmp_path / "home"), "NO_COLOR": "1", "PYDANTIC_DISABLE_PLUGINS": wanted})
    assert "hello there" in out  # the loopback echoes the prompt: the call was made
    real_loader = plugins != "unset"
    # httpx itself is not imported either: the call went over the single-call client (light_http).
    assert out.splitlines()[-1] == f"httpx: False its cli: False plugin loader: {real_loader} metadata: {real_loader}"
    assert loopback.calls("hello there") == 1


def test_the_price_library_version_is_read_without_its_metadata_module() -> None:
    code = """
        import sys
        from importlib.metadata import version
        expected = version("genai-prices")
        for name in [name for name in sys.modules if name.startswith("importlib.metadata")]:
            del sys.modules[name]
        from mmo.catalog.prices import library_version
        print(library_version() == expected, "importlib.metadata" in sys.modules)
    """
    assert run_python(code).split() == ["True", "False"]


def test_a_command_named_exactly_runs_on_an_app_of_that_command_alone() -> None:
    from mmo.cli.main import COMMANDS, app_for, whole_app

    def names(app: Any) -> list[str]:
        return [info.name for info in app.registered_commands] + [info.name for info in app.registered_groups]

    assert names(app_for(["ask", "hello"], {})) == ["ask"]
    assert names(app_for(["logs", "stats"], {})) == ["logs"]  # a group, with its subcommands
    whole = whole_app()
    assert sorted(names(whole)) == sorted(COMMANDS)
    for args, environ in ((["ask", "--help"], {}), (["akk"], {}), ([], {}), (["ask", "hi"], {"_MMO_COMPLETE": "complete_bash"})):
        assert app_for(args, environ) is whole  # help, a typo to suggest for, completion: every command


def test_one_command_alone_answers_as_the_whole_app_does(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mmo.cli.main import app_for, whole_app

    for args in (["ask", "--nope"], ["batch"], ["config", "set", "output", "quite"]):
        alone = CliRunner().invoke(app_for(args, {}), args, env={"MMO_HOME": str(tmp_path)})
        whole = CliRunner().invoke(whole_app(), args, env={"MMO_HOME": str(tmp_path)})
        assert (alone.exit_code, alone.stdout, alone.stderr) == (whole.exit_code, whole.stdout, whole.stderr), args
        assert alone.exit_code == 2

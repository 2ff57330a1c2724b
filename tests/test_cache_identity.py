"""The response cache tells providers apart by everything that can change their answers: two
providers on one URL with different headers (a deployment, a tenant) never share an answer, and a
header value, which may be a secret, is never kept in clear."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mmo.catalog.endpoints import ProviderSettings
from mmo.cli.main import app
from mmo.core.types import frozen_mapping
from mmo.providers.openai import OpenAIProvider
from tests.support.loopback import LoopbackServer

TENANT_SECRET = "tenant-secret-value-0123456789"


def provider(headers: dict[str, str], base_url: str = "http://127.0.0.1:9/v1") -> OpenAIProvider:
    settings = ProviderSettings("lab", "openai", base_url, needs_key=False, headers=frozen_mapping(headers))
    return OpenAIProvider(settings, None, None)  # type: ignore[arg-type]  # identity() needs no client


def test_headers_change_the_identity_but_never_appear_in_it() -> None:
    plain, a, b = provider({}), provider({"X-Tenant": TENANT_SECRET}), provider({"X-Tenant": "other"})
    assert len({repr(dict(p.identity())) for p in (plain, a, b)}) == 3
    assert TENANT_SECRET not in repr(dict(a.identity()))
    assert dict(plain.identity()) == {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}  # old cache entries still hit
    assert a.identity() == provider({"x-tenant": TENANT_SECRET}).identity()  # header names are case-insensitive


def test_two_providers_on_one_url_with_different_headers_do_not_share_an_answer(loopback: LoopbackServer, tmp_path: Path, isolated_env: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "providers:\n"
        f'  team-a: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none, headers: {{X-Tenant: {TENANT_SECRET}}}}}\n'
        f'  team-b: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none, headers: {{X-Tenant: b}}}}\n'
        "strategy: team-a:m\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    first = runner.invoke(app, ["ask", "--profile", str(profile), "--json", "same question"])
    second = runner.invoke(app, ["ask", "--profile", str(profile), "--model", "team-b:m", "--json", "same question"])
    again = runner.invoke(app, ["ask", "--profile", str(profile), "--json", "same question"])
    assert first.exit_code == second.exit_code == again.exit_code == 0, first.stderr + second.stderr
    assert loopback.calls("same question") == 2  # team-b was asked, not served team-a's answer
    assert '"cached": true' in again.stdout  # while the same provider still hits
    stored = b"".join(p.read_bytes() for p in isolated_env.rglob("*") if p.is_file())
    assert TENANT_SECRET.encode() not in stored

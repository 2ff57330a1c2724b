"""A hostile or broken endpoint (or proxy) costs at most the provider's transport limits: a gzip
bomb, a deeply nested answer, an endless or trickling stream, a stalled connection, a huge event
and a connect that never completes each end in a classified error naming the limit, on both HTTP
paths (plain httpx, the single-call client ``mmo ask`` uses, and the batch client's aiohttp
path), and the fallback
then answers; a batch counts such rows as retryable. The limits are small here so each case ends
in well under a second; their defaults are documented in README "Providers and keys"."""

from __future__ import annotations

import asyncio
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mmo.catalog.endpoints import ProviderSettings
from mmo.cli.main import app
from mmo.core.errors import AnswerOverLimit, ProviderError, StreamCut, Timeout
from mmo.core.transport_limits import MIB, TransportLimits
from mmo.core.types import Params, Request
from mmo.providers.fast_client import batch_client_factory
from mmo.providers.http import CLIENT_HEADERS, make_client
from mmo.providers.light_http import LightClient
from mmo.providers.openai import OpenAIProvider
from tests.support.batch_harness import read_jsonl, run_cli, write_rows
from tests.support.hostile import HostileServer, Hostility, blackholed_port
from tests.support.loopback import LoopbackServer

SMALL = TransportLimits(
    max_response_bytes=256 * 1024,
    max_event_bytes=64 * 1024,
    max_json_depth=64,
    connect_timeout_s=0.3,
    read_idle_timeout_s=0.3,
    attempt_deadline_s=0.5,
)
PATIENT = replace(SMALL, attempt_deadline_s=5.0)  # only the idle bound can end these in time
CLIENTS: dict[str, Callable[[], httpx.AsyncClient]] = {
    "httpx": make_client,
    "batch": lambda: batch_client_factory(4, {})(),
    "light": lambda: LightClient(make_client, {}, headers=CLIENT_HEADERS),  # type: ignore[dict-item]  # duck-typed, as the pool uses it
}


@pytest.fixture
def hostile() -> Iterator[Callable[[Hostility], HostileServer]]:
    started: list[HostileServer] = []

    def start(hostility: Hostility) -> HostileServer:
        server = HostileServer(hostility, lifetime_s=20).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def call(base_url: str, client: str, *, stream: bool, limits: TransportLimits = SMALL, timeout_s: float | None = None) -> ProviderError:
    """One call through the OpenAI adapter; the error it ends in (it must end in one)."""

    async def run() -> None:
        http = CLIENTS[client]()
        provider = OpenAIProvider(ProviderSettings("bad", "openai", f"{base_url}/v1", needs_key=False, transport=limits), None, http)
        request = Request.from_prompt("hello", params=Params(timeout_s=timeout_s))
        try:
            if stream:
                async for _ in provider.stream(request, "m"):
                    pass
            else:
                await provider.complete(request, "m")
        finally:
            await http.aclose()

    with pytest.raises(ProviderError) as caught:
        asyncio.run(run())
    return caught.value


# (case id, what the server does, streamed?, limits, request timeout_s, error class, the limit the message names)
CASES = [
    ("gzip-bomb", Hostility.gzip_bomb(4 << 30), False, SMALL, None, AnswerOverLimit, "max_response_mib"),
    ("gzip-bomb-stream", Hostility.gzip_bomb(4 << 30), True, SMALL, None, AnswerOverLimit, "max_(event|response)_mib"),
    ("deep-json", Hostility.deep_json(100_000), False, SMALL, None, AnswerOverLimit, "max_json_depth"),
    ("deep-json-event", Hostility.deep_json(5_000), True, SMALL, None, AnswerOverLimit, "max_json_depth"),
    ("endless-stream", Hostility.endless_stream(), True, SMALL, None, StreamCut, "max_response_mib"),
    ("endless-stream-deadline", Hostility.endless_stream(interval_s=0.02), True, SMALL, None, StreamCut, "attempt_deadline_s"),
    ("endless-stream-timeout_s", Hostility.endless_stream(interval_s=0.02), True, SMALL, 0.4, StreamCut, "timeout_s"),
    ("trickle", Hostility.trickle(0.05), False, SMALL, None, Timeout, "attempt_deadline_s"),
    ("trickle-stream-timeout_s", Hostility.trickle(0.05), True, SMALL, 0.4, Timeout, "timeout_s"),
    ("stall", Hostility.stall(), False, PATIENT, None, Timeout, "read_idle_timeout_s"),
    ("stall-stream", Hostility.stall(after_bytes=10), True, PATIENT, None, Timeout, "read_idle_timeout_s"),
    ("huge-event", Hostility.huge_event(4 * MIB), True, SMALL, None, AnswerOverLimit, "max_event_mib"),
]


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize(("name", "hostility", "stream", "limits", "timeout_s", "error_class", "limit"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_endpoint_ends_in_a_classified_error_naming_the_limit(
    hostile: Callable[[Hostility], HostileServer],
    client: str,
    name: str,
    hostility: Hostility,
    stream: bool,
    limits: TransportLimits,
    timeout_s: float | None,
    error_class: type[ProviderError],
    limit: str,
) -> None:
    server = hostile(hostility)
    error = call(server.base_url, client, stream=stream, limits=limits, timeout_s=timeout_s)
    assert type(error) is error_class, error
    assert error.failover and error.retryable  # a fallback moves on; a batch row may run again
    assert re.search(limit, error.one_line()), error.one_line()
    if isinstance(error, StreamCut):
        assert error.partial_text  # the text already shown is kept
    record = server.wait_for_connections(1)[0]
    if hostility.kind in ("gzip_bomb", "endless_stream", "huge_event"):
        assert record.client_closed, record  # the client stopped reading at the limit, the server had more


def test_timeout_s_is_the_deadline_and_lifts_a_shorter_idle_bound() -> None:
    limits = TransportLimits(read_idle_timeout_s=60, attempt_deadline_s=900)
    assert limits.for_attempt(None) is limits
    short, long = limits.for_attempt(3), limits.for_attempt(600)
    assert (short.attempt_deadline_s, short.read_idle_timeout_s, short.deadline_name) == (3, 60, "timeout_s")
    assert (long.attempt_deadline_s, long.read_idle_timeout_s) == (600, 600)  # a slow non-streamed answer may take that long


def test_a_connect_that_never_completes_ends_at_connect_timeout_s() -> None:
    for client in CLIENTS:
        with blackholed_port() as port:
            error = call(f"http://127.0.0.1:{port}", client, stream=False, limits=PATIENT)
        assert type(error) is Timeout and "connect_timeout_s" in error.one_line(), error.one_line()


def test_an_answer_within_the_limits_is_read_whole_on_both_clients(loopback: LoopbackServer) -> None:
    """The limits cost a healthy answer nothing: streamed and not, on both clients."""

    async def run(client: str, stream: bool) -> str:
        http = CLIENTS[client]()
        settings = ProviderSettings("loop", "openai", loopback.openai_base_url, needs_key=False, transport=SMALL)
        provider = OpenAIProvider(settings, None, http)
        try:
            if not stream:
                return (await provider.complete(Request.from_prompt("healthy"), "m")).text
            return "".join([delta.text async for delta in provider.stream(Request.from_prompt("healthy"), "m")])
        finally:
            await http.aclose()

    for client in CLIENTS:
        for stream in (False, True):
            assert asyncio.run(run(client, stream)) == "echo: healthy"


# --- end to end: the fallback answers, nothing is an internal error ------------------------------


def fallback_profile(tmp_path: Path, bad_url: str, good: LoopbackServer, *, transport: str = "") -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            providers:
              bad: {{kind: openai, base_url: "{bad_url}/v1", key: none{transport}}}
              good: {{kind: openai, base_url: "{good.openai_base_url}", key: none}}
            models:
              a: {{model: "bad:bad-model", price: {{input: 1, output: 2}}}}
              b: {{model: "good:good-model", price: {{input: 1, output: 2}}}}
            defaults: {{max_tokens: 16}}
            strategy:
              fallback: [a, b]
              retry: {{attempts: 1}}
            """
        )
    )
    return path


def ask(profile: Path, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["ask", "--profile", str(profile), "--no-cache", "--explain", *extra, "What is 2+2?"])
    return result.exit_code, result.stdout, result.stderr


def test_ask_falls_over_from_a_deeply_nested_answer_instead_of_an_internal_error(
    tmp_path: Path, hostile: Callable[[Hostility], HostileServer], loopback: LoopbackServer
) -> None:
    server = hostile(Hostility.deep_json(100_000))  # the default limits: nothing set in the profile
    code, out, err = ask(fallback_profile(tmp_path, server.base_url, loopback), "--no-stream")
    assert code == 0, err
    assert out.strip() == "echo: What is 2+2?"
    assert "AnswerOverLimit" in err and "max_json_depth" in err


def test_ask_falls_over_from_a_gzip_bomb_past_the_default_size_limit(
    tmp_path: Path, hostile: Callable[[Hostility], HostileServer], loopback: LoopbackServer
) -> None:
    server = hostile(Hostility.gzip_bomb(64 * MIB))  # 64 KB sent, 64 MiB inflated: twice the default 32 MiB
    code, out, err = ask(fallback_profile(tmp_path, server.base_url, loopback), "--no-stream")
    assert code == 0, err
    assert out.strip() == "echo: What is 2+2?"
    assert "AnswerOverLimit" in err and "32 MiB" in err


def test_ask_cuts_an_endless_stream_at_timeout_s_and_the_fallback_answers(
    tmp_path: Path, hostile: Callable[[Hostility], HostileServer], loopback: LoopbackServer
) -> None:
    server = hostile(Hostility.endless_stream(interval_s=0.02))
    code, out, err = ask(fallback_profile(tmp_path, server.base_url, loopback), "--stream", "-p", "timeout_s=0.5")
    assert code == 0, err
    assert "[mmo] the stream from bad:bad-model was cut" in out
    assert out.rstrip().endswith("echo: What is 2+2?")
    assert "within 0.5 s (timeout_s)" in err


def test_a_profile_sets_the_transport_limits_of_its_providers(
    tmp_path: Path, hostile: Callable[[Hostility], HostileServer], loopback: LoopbackServer
) -> None:
    server = hostile(Hostility.trickle(0.05))  # a non-streamed answer that would take minutes
    transport = ", transport: {attempt_deadline_s: 0.4, read_idle_timeout_s: 5}"
    code, out, err = ask(fallback_profile(tmp_path, server.base_url, loopback, transport=transport), "--no-stream")
    assert code == 0, err
    assert out.strip() == "echo: What is 2+2?"
    assert "within 0.4 s (attempt_deadline_s)" in err


@pytest.mark.parametrize(
    ("setting", "problem"),
    [("max_json_depth: 100000", "less than or equal to 512"), ("attempt_deadline_s: -1", "greater than 0"), ("max_response_mib: .nan", "finite")],
)
def test_a_bad_transport_limit_is_a_usage_error_naming_it(tmp_path: Path, loopback: LoopbackServer, setting: str, problem: str) -> None:
    profile = fallback_profile(tmp_path, loopback.url, loopback, transport=f", transport: {{{setting}}}")
    code, _, err = ask(profile)
    assert code == 2, err
    assert f"providers.bad.transport.{setting.split(':')[0]}" in err and problem in err


# --- batch: such rows are retryable, the fallback answers on the fast path -----------------------


def batch_profile(tmp_path: Path, bad_url: str, good: LoopbackServer | None) -> Path:
    if good is not None:
        return fallback_profile(tmp_path, bad_url, good)
    path = tmp_path / "alone.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            providers:
              bad: {{kind: openai, base_url: "{bad_url}/v1", key: none}}
            models:
              a: {{model: "bad:bad-model", price: {{input: 1, output: 2}}}}
            defaults: {{max_tokens: 16}}
            limits:
              a: {{breaker: {{failures: 1000}}}}
            strategy: a
            """
        )
    )
    return path


def test_batch_rows_that_met_a_gzip_bomb_are_retryable(tmp_path: Path, hostile: Callable[[Hostility], HostileServer]) -> None:
    server = hostile(Hostility.gzip_bomb(64 * MIB))  # the default limits: the fast path's own decoding
    data = write_rows(tmp_path / "in.jsonl", 3)
    result = run_cli(str(data), "-P", str(batch_profile(tmp_path, server.base_url, None)), "-c", "2", "--no-cache")
    assert result.exit_code == 1, result.stderr  # rows failed; not an internal error (70)
    rows = read_jsonl(tmp_path / "in.out.jsonl")
    assert [(r["status"], r["error"]["class"]) for r in rows] == [("infra_error", "AnswerOverLimit")] * 3
    assert "32 MiB" in rows[0]["error"]["message"]


def test_batch_falls_over_from_a_deeply_nested_answer_on_the_fast_path(
    tmp_path: Path, hostile: Callable[[Hostility], HostileServer], loopback: LoopbackServer
) -> None:
    server = hostile(Hostility.deep_json(100_000))
    data = write_rows(tmp_path / "in.jsonl", 3)
    result = run_cli(str(data), "-P", str(batch_profile(tmp_path, server.base_url, loopback)), "-c", "2", "--no-cache")
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(tmp_path / "in.out.jsonl")
    assert all(r["status"] == "done" and r["model"] == "good:good-model" for r in rows), rows
    assert len(server.records()) == 3  # each row met the deep answer first

"""Rate limits shared through a real Redis (``MMO_STATE_URL``): the buckets of every process are
one bucket on the server, checked atomically; a Retry-After pause reaches every process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mmo.core.errors import RateLimited
from mmo.runtime.limits import LimitsGuard
from mmo.runtime.shared_limits import SharedLimits
from mmo.spec.portfolio import LimitSpec
from tests.support.loopback import LoopbackServer

MODEL = "loop:fake-model"


def _limiter(url: str, rpm: int):  # type: ignore[no-untyped-def]
    return LimitsGuard({MODEL: LimitSpec(rpm=rpm)}, shared=SharedLimits(url)).limiter(MODEL)


def test_two_sessions_take_from_one_bucket(redis_url: str) -> None:
    async def scenario() -> tuple[int, float]:
        first, second = _limiter(redis_url, 3), _limiter(redis_url, 3)  # as two processes would
        taken = 0
        for limiter in (first, second, first, second):
            try:
                await limiter.acquire(0, 0.0, lambda *a, **k: None)
                taken += 1
            except RateLimited as refused:
                wait = refused.retry_after or 0.0
        for limiter in (first, second):
            await limiter._shared.aclose()  # type: ignore[union-attr]
        return taken, wait

    taken, wait = asyncio.run(scenario())
    assert taken == 3  # a local bucket each would have let all four through
    assert 19.0 < wait <= 20.3  # one request of 3 per minute comes back in 20 s (a 1 % margin: 20.2)


def test_a_retry_after_pause_reaches_every_session(redis_url: str) -> None:
    async def scenario() -> float:
        first, second = _limiter(redis_url, 100), _limiter(redis_url, 100)
        permit = await first.acquire(0, 0.0, lambda *a, **k: None)
        first.release(permit, None, RateLimited("slow down", provider="loop", model="fake-model", retry_after=30))
        await asyncio.sleep(0.05)  # the pause is written in the background of the release
        try:
            await second.acquire(0, 0.0, lambda *a, **k: None)
        except RateLimited as refused:
            return refused.retry_after or 0.0
        finally:
            for limiter in (first, second):
                await limiter._shared.aclose()  # type: ignore[union-attr]
        return 0.0

    assert 25.0 < asyncio.run(scenario()) <= 30.0


def test_three_processes_with_rpm_1_send_one_request(redis_url: str, loopback: LoopbackServer, tmp_path: Path) -> None:
    profile = tmp_path / "one.yaml"
    profile.write_text(textwrap.dedent(f"""
        providers:
          loop: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none}}
        models:
          m: {{model: "{MODEL}"}}
        limits:
          m: {{rpm: 1}}
        strategy: m
        """))
    env = {**os.environ, "MMO_STATE_URL": redis_url, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    argv = [sys.executable, "-m", "mmo", "ask", "-P", str(profile), "--no-cache", "--fail-fast"]
    processes = [subprocess.Popen([*argv, f"hello {n}"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in range(3)]
    codes = [process.wait(timeout=60) for process in processes]
    assert sorted(codes) == [0, 1, 1]
    assert loopback.stats().answered == 1  # without shared state: 3
    refused = [process.stderr.read().decode() for process in processes if process.returncode == 1]  # type: ignore[union-attr]
    assert all("shared limits" in text for text in refused)


def test_a_state_url_is_checked_and_its_password_never_shown(isolated_env: Path) -> None:
    from typer.testing import CliRunner

    from mmo.cli.main import app

    refused = CliRunner().invoke(app, ["config", "set", "state", "http://example.invalid"])
    assert refused.exit_code == 2 and "state must be a Redis URL" in refused.stderr
    stored = CliRunner().invoke(app, ["config", "set", "state", "redis://worker:s3cret-pass@127.0.0.1:6390/0"])
    assert stored.exit_code == 0 and "s3cret-pass" not in stored.stdout
    shown = CliRunner().invoke(app, ["config", "show", "--json"])
    assert "s3cret-pass" not in shown.stdout and "redis://worker:***@127.0.0.1:6390/0" in shown.stdout


def _ask(profile: Path, home: Path, redis_url: str | None, prompt: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MMO_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop("MMO_STATE_URL", None)
    if redis_url is not None:
        env["MMO_STATE_URL"] = redis_url
    return subprocess.run([sys.executable, "-m", "mmo", "ask", "-P", str(profile), "--no-cache", prompt],
                          env=env, cwd=home.parent, capture_output=True, text=True, timeout=60)


def test_the_daily_budget_is_one_counter_for_every_machine(redis_url: str, loopback: LoopbackServer, tmp_path: Path) -> None:
    profile = tmp_path / "budgeted.yaml"
    profile.write_text(textwrap.dedent(f"""
        name: budgeted
        providers:
          loop: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none}}
        models:
          m: {{model: "{MODEL}", price: {{input: 1000, output: 1000}}}}
        defaults: {{max_tokens: 100}}
        budget: {{daily_usd: 0.16}}
        strategy: m
        """))
    # Two machines (two homes, two run logs): each call's worst case is ~$0.125 (its ~25 prompt
    # tokens and max_tokens), its cost ~$0.05 (the echo); two fit $0.16 only when counted apart.
    words = " ".join(f"word{i}" for i in range(12))
    alone = [_ask(profile, tmp_path / f"local{n}", None, f"hello {n} {words}") for n in range(2)]
    assert [done.returncode for done in alone] == [0, 0]  # per machine, each run log is empty
    shared = [_ask(profile, tmp_path / f"shared{n}", redis_url, f"hi {n} {words}") for n in range(2)]
    assert shared[0].returncode == 0, shared[0].stderr
    assert shared[1].returncode == 4 and "spent today by every process sharing it" in shared[1].stderr
    assert loopback.stats().answered == 3


def test_one_machine_s_answer_is_another_s_cache_hit(redis_url: str, loopback: LoopbackServer, tmp_path: Path) -> None:
    profile = tmp_path / "cached.yaml"
    profile.write_text(textwrap.dedent(f"""
        providers:
          loop: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none}}
        models:
          m: {{model: "{MODEL}", price: {{input: 1, output: 1}}}}
        strategy: m
        """))

    def ask(home: str, url: str | None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MMO_HOME": str(tmp_path / home), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        env.pop("MMO_STATE_URL", None)
        if url is not None:
            env["MMO_STATE_URL"] = url
        return subprocess.run([sys.executable, "-m", "mmo", "ask", "-P", str(profile), "--json", "what is shared?"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    import json

    first, second = ask("machine-a", redis_url), ask("machine-b", redis_url)
    assert first.returncode == second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["answer"] == json.loads(first.stdout)["answer"]
    assert loopback.stats().answered == 1  # machine b's answer came from the shared cache
    assert ask("machine-c", None).returncode == 0 and loopback.stats().answered == 2  # without it: asked again


def test_an_unreachable_shared_cache_is_one_warning_and_the_call_goes_on(loopback: LoopbackServer, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profile = tmp_path / "plain.yaml"
    profile.write_text(textwrap.dedent(f"""
        providers:
          loop: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none}}
        models:
          m: {{model: "{MODEL}"}}
        strategy: m
        """))
    env = {**os.environ, "MMO_HOME": str(tmp_path / "home"), "MMO_STATE_URL": f"redis://127.0.0.1:{port}/0",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "mmo", "ask", "-P", str(profile), "hello"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("shared response cache cannot be used") == 1


def test_a_circuit_that_opens_in_one_process_opens_in_every_process(redis_url: str) -> None:
    from mmo.core.errors import Overloaded, ServerError
    from mmo.runtime.shared_circuits import SharedCircuits
    from mmo.spec.portfolio import BreakerSpec

    spec = {MODEL: LimitSpec(breaker=BreakerSpec(failures=2, cooldown_s=30))}

    def session() -> LimitsGuard:
        return LimitsGuard(spec, circuits=SharedCircuits(redis_url))

    async def refused(guard: LimitsGuard) -> str | None:
        await guard.follow_shared_circuits()
        try:
            permit = await guard.limiter(MODEL).acquire(0, 0.0, lambda *a, **k: None, may_move_on=True)
        except Overloaded as error:
            return str(error)
        permit.limiter.release(permit, None, None)
        return None

    async def scenario() -> tuple[str | None, str | None, str | None]:
        failing, other = session(), session()
        before = await refused(other)  # listening from here on
        for _ in range(2):  # two failures in a row open the failing session's circuit
            permit = await failing.limiter(MODEL).acquire(0, 0.0, lambda *a, **k: None)
            failing.release(permit, None, None, ServerError("boom", provider="loop", model="fake-model"))  # type: ignore[arg-type]
        await asyncio.sleep(0.3)  # the opening is published in the background
        after = await refused(other)
        late = session()  # a process that starts during the cooldown reads it when it starts listening
        joined = await refused(late)
        for guard in (failing, other, late):
            await guard.aclose()
        return before, after, joined

    before, after, joined = asyncio.run(scenario())
    assert before is None
    assert after is not None and "circuit open" in after and "after 2 failures" in after  # without sharing: the other still calls
    assert joined is not None and "circuit open" in joined

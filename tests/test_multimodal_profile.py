"""The built-in `multimodal` profile, end to end against the loopback server standing in for the
four vendors: an image goes to the vision branch, a schema to the validating cascade (escalating
an answer that does not match), a prompt over the default's window to the long-context branch,
and the rest to the cheap text model."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.batch_harness import read_jsonl, run_cli
from tests.support.loopback import Fault, LoopbackServer

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture
def vendors(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    for name, url in (("DEEPSEEK", loopback.openai_base_url), ("OPENAI", loopback.openai_base_url),
                      ("GEMINI", loopback.gemini_base_url), ("ANTHROPIC", loopback.anthropic_base_url)):
        monkeypatch.setenv(f"MMO_{name}_BASE_URL", url)
        monkeypatch.setenv(f"{name}_API_KEY", "sk-loop-0123456789")
    return loopback


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff" * 2)) + chunk(b"IEND", b""))


def ask(*args: str, prompt: str = "Hello there") -> Any:
    return CliRunner().invoke(app, ["ask", "--profile", "multimodal", "--no-cache", "--explain", *args, prompt])


def models(server: LoopbackServer) -> list[str]:
    return [record.model or "" for record in server.requests]


def test_plain_text_goes_to_the_cheap_text_model(vendors: LoopbackServer) -> None:
    result = ask()
    assert result.exit_code == 0, result.stderr
    assert models(vendors) == ["deepseek-chat"]


def test_an_image_goes_to_the_vision_branch(vendors: LoopbackServer, tmp_path: Path) -> None:
    photo = tmp_path / "receipt.png"
    photo.write_bytes(png())
    result = ask("--attach", str(photo), prompt="What is the total?")
    assert result.exit_code == 0, result.stderr
    assert models(vendors) == ["gemini-2.5-flash"]
    assert "rule 1 matched: 1 image attached" in result.stderr


def test_a_schema_goes_to_the_cascade_and_an_invalid_answer_escalates(vendors: LoopbackServer, tmp_path: Path) -> None:
    schema = tmp_path / "city.json"
    schema.write_text(json.dumps(CITY))
    vendors.script("gpt-4.1-nano", Fault.ok('{"town": "Paris"}'))
    vendors.script("gpt-4.1-mini", Fault.ok('{"city": "Paris"}'))
    result = ask("--schema", str(schema), prompt="Where is the Eiffel tower?")
    assert result.exit_code == 0, result.stderr
    assert models(vendors) == ["gpt-4.1-nano", "gpt-4.1-mini"]
    assert json.loads(result.stdout) == {"city": "Paris"}
    assert vendors.requests[0].body["response_format"]["type"] == "json_schema"


def test_a_prompt_over_the_defaults_window_goes_to_the_long_context_branch(vendors: LoopbackServer) -> None:
    result = ask(prompt="word " * 60_000)  # ~75k tokens: over deepseek-chat's 64k
    assert result.exit_code == 0, result.stderr
    assert models(vendors) == ["gemini-2.5-flash"]
    assert "would not fit the 64,000-token context window of chat" in " ".join(result.stderr.replace("│", " ").split())


def test_the_same_routes_in_a_batch(vendors: LoopbackServer, tmp_path: Path) -> None:
    (tmp_path / "receipt.png").write_bytes(png())
    vendors.script("gpt-4.1-nano", Fault.ok('{"city": "Rome"}'))
    rows = [
        {"id": "text", "prompt": "Hello"},
        {"id": "image", "prompt": "What is this?", "images": ["receipt.png"]},
        {"id": "schema", "prompt": "Where is the Colosseum?", "schema": CITY},
        {"id": "long", "prompt": "word " * 60_000},
    ]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = run_cli(str(data), "-P", "multimodal", "--no-cache", "-c", "1")
    assert result.exit_code == 0, result.stderr
    out = {row["id"]: row["model"] for row in read_jsonl(tmp_path / "in.out.jsonl")}
    assert out == {"text": "deepseek:deepseek-chat", "image": "gemini:gemini-2.5-flash", "schema": "openai:gpt-4.1-nano", "long": "gemini:gemini-2.5-flash"}

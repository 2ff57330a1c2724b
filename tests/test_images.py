"""Images: `--attach` and batch rows' images are sniffed by their bytes, sized from their headers,
sent in each vendor's documented shape, counted in tokens by each vendor's rule, checked against
each vendor's limits before any call, kept to local models under a privacy rule, and routed only to
models that can see."""

from __future__ import annotations

import base64
import json
import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.catalog.images import image_problem, image_tokens
from mmo.cli.main import app
from mmo.core.image_bytes import gif_frames, sniff_image
from mmo.core.types import ImagePart, Message, ModelRef, Request
from mmo.runtime.call_estimate import estimate_call
from mmo.runtime.tokens import TokenEstimator
from tests.support.batch_harness import read_jsonl, run_cli
from tests.support.loopback import LoopbackServer


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG: white pixels, 8-bit greyscale."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def gif(width: int = 5, height: int = 4) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b"\x2c" + b"\x00" * 9 + b"\x02\x02\x44\x01\x00\x3b"


def animated_gif(frames: int = 2) -> bytes:
    """A GIF with a global colour table, a looping extension and ``frames`` frames."""
    table = b"\x00\x00\x00\xff\xff\xff"  # two colours: packed 0x80 (a table of 2 entries)
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = b"\x21\xf9\x04\x00\x0a\x00\x00\x00" + b"\x2c" + struct.pack("<HHHH", 0, 0, 2, 2) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + struct.pack("<HH", 2, 2) + b"\x80\x00\x00" + table + loop + frame * frames + b"\x3b"


def jpeg(width: int = 640, height: int = 480) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def webp_vp8x(width: int, height: int) -> bytes:
    payload = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(payload)) + b"WEBP" + b"VP8X" + struct.pack("<I", len(payload)) + payload


def webp_vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 4
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(payload)) + b"WEBP" + b"VP8L" + struct.pack("<I", len(payload)) + payload


def webp_vp8(width: int, height: int) -> bytes:
    payload = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 4
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(payload)) + b"WEBP" + b"VP8 " + struct.pack("<I", len(payload)) + payload


# ---- what the bytes are ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(3, 2), ("image/png", 3, 2)),
        (gif(5, 4), ("image/gif", 5, 4)),
        (jpeg(640, 480), ("image/jpeg", 640, 480)),
        (webp_vp8x(1000, 750), ("image/webp", 1000, 750)),
        (webp_vp8l(37, 11), ("image/webp", 37, 11)),
        (webp_vp8(320, 200), ("image/webp", 320, 200)),
    ],
    ids=["png", "gif", "jpeg", "webp-vp8x", "webp-vp8l", "webp-vp8"],
)
def test_type_and_size_come_from_the_bytes(data: bytes, expected: tuple[str, int, int]) -> None:
    info = sniff_image(data)
    assert info is not None and (info.media_type, info.width, info.height) == expected


def test_other_bytes_are_not_images_and_a_cut_header_leaves_the_size_unknown() -> None:
    assert sniff_image(b"%PDF-1.7 ...") is None
    assert sniff_image(b"") is None
    cut = sniff_image(png()[:12])
    assert cut is not None and (cut.media_type, cut.width) == ("image/png", None)
    looping = b"\xff\xd8" + b"\xff\xe0\x00\x00" * 10  # a zero-length segment: no endless walk
    assert sniff_image(looping) == sniff_image(looping) and sniff_image(looping).width is None  # type: ignore[union-attr]


# ---- tokens, by each vendor's documented rule ----------------------------------------------------


def image(width: int | None, height: int | None, size: int = 100, media_type: str = "image/png") -> ImagePart:
    return ImagePart(media_type, b"\0" * size, width, height, "test.png")


@pytest.mark.parametrize(
    ("kind", "model", "width", "height", "tokens"),
    [
        ("openai", "gpt-4o", 1024, 1024, 765),  # OpenAI's worked example: 4 tiles
        ("openai", "gpt-4o", 2048, 4096, 1105),  # scaled to 768 x 1536: 6 tiles
        ("openai", "gpt-4o-mini", 1024, 1024, 2833 + 5667 * 4),
        ("openai", "gpt-4.1-mini", 1024, 1024, 1659),  # 1,024 patches x 1.62
        ("openai", "gpt-4.1-nano", 1800, 2400, 3572),  # OpenAI's example: 1,452 patches x 2.46
        ("anthropic", "claude-haiku-4-5", 1092, 1092, 1590),  # Anthropic's table
        ("anthropic", "claude-haiku-4-5", 200, 200, 54),
        ("gemini", "gemini-2.5-flash", 384, 384, 258),
        ("gemini", "gemini-2.5-flash", 1000, 1000, 258 * 4),
    ],
)
def test_image_tokens(kind: str, model: str, width: int, height: int, tokens: int) -> None:
    assert image_tokens(kind, model, image(width, height)) == tokens


def test_an_image_of_unknown_size_counts_as_the_most_one_image_costs() -> None:
    assert image_tokens("anthropic", "claude-haiku-4-5", image(None, None)) == 1600
    assert image_tokens("openai", "gpt-4o", image(None, None)) == 85 + 170 * 6


def test_estimates_count_images() -> None:
    text = Request.from_prompt("What is in this picture?")
    with_image = Request((Message("user", "What is in this picture?", images=(image(1024, 1024),)),))
    estimator = TokenEstimator()
    plain = estimate_call(text, ModelRef("openai", "gpt-4o"), estimator, "openai").input_tokens
    assert estimate_call(with_image, ModelRef("openai", "gpt-4o"), estimator, "openai").input_tokens == plain + 765


# ---- each vendor's limits ------------------------------------------------------------------------


def test_each_vendors_limits() -> None:
    big = image(1000, 1000, size=6 * 1024 * 1024)
    assert image_problem("openai", [big]) is None
    assert "5 MB an image may be" in (image_problem("anthropic", [big]) or "")
    base64_over = image(1000, 1000, size=3_932_161)  # 5,242,884 bytes in base64: Anthropic refuses it
    assert "5 MB an image may be" in (image_problem("anthropic", [base64_over]) or "")
    assert image_problem("anthropic", [image(1000, 1000, size=3_932_160)]) is None  # exactly 5,242,880 in base64
    assert "8000 px a side" in (image_problem("anthropic", [image(9000, 100)]) or "")
    assert "2000 px a side" in (image_problem("anthropic", [image(2100, 100)] * 21) or "")
    assert "101 images" in (image_problem("anthropic", [image(10, 10)] * 101) or "")
    assert "does not take" in (image_problem("gemini", [image(10, 10, media_type="image/gif")]) or "")
    moving = ImagePart("image/gif", animated_gif(3), 2, 2, "moving.gif")
    assert "animated GIF" in (image_problem("openai", [moving]) or "")
    assert image_problem("anthropic", [moving]) is None
    assert image_problem("openai", [ImagePart("image/gif", animated_gif(1), 2, 2, "still.gif")]) is None
    assert image_problem("openai", [ImagePart("image/gif", gif(), 5, 4, "plain.gif")]) is None
    assert "20 MB a request" in (image_problem("gemini", [image(10, 10, size=16 * 1024 * 1024)]) or "")
    near = [image(10, 10, size=15 * 1024 * 1024)]  # 20.0 MB in base64: room for no more than a little text
    assert image_problem("gemini", near) is None
    assert "20 MB a request" in (image_problem("gemini", near, text_bytes=200_000) or "")


def test_gif_frames_are_counted_and_a_cut_gif_ends_the_walk() -> None:
    assert [gif_frames(animated_gif(n)) for n in (1, 2, 5)] == [1, 2, 2]  # counted up to two
    assert gif_frames(animated_gif(5), stop_at=10) == 5
    assert gif_frames(gif()) == 1 and gif_frames(png()) == 0
    whole = animated_gif(2)
    assert all(gif_frames(whole[:cut]) <= 2 for cut in range(len(whole)))


# ---- end to end --------------------------------------------------------------------------------


BASES = {"openai": "openai_base_url", "anthropic": "anthropic_base_url", "gemini": "gemini_base_url"}


def write_profile(tmp_path: Path, server: LoopbackServer, *, extra: str = "", kinds: tuple[str, str] = ("openai", "openai"), strategy: str = "{fallback: [text, eye]}") -> Path:
    first, second = kinds
    path = tmp_path / "vision.yaml"
    path.write_text(
        "providers:\n"
        f'  p: {{kind: {first}, base_url: "{getattr(server, BASES[first])}", key: none}}\n'
        f'  q: {{kind: {second}, base_url: "{getattr(server, BASES[second])}", key: none}}\n'
        "models:\n"
        '  text: {model: "p:text-model", price: {input: 1, output: 2}, capabilities: {vision: false}}\n'
        '  eye: {model: "q:eye-model", price: {input: 1, output: 2}, capabilities: {vision: true}}\n'
        f"defaults: {{max_tokens: 64, timeout_s: 5}}\n{extra}strategy: {strategy}\n"
    )
    return path


def flat(text: str) -> str:
    """Terminal output with the tree's wrapping undone."""
    return " ".join(text.replace("│", " ").split()).replace(" /", "/").replace("/ ", "/")


def ask(profile: Path, *args: str, prompt: str = "What is in this picture?", input: bytes | None = None) -> Any:
    return CliRunner().invoke(app, ["ask", "--profile", str(profile), "--no-cache", *args, prompt], input=input)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(png(3, 2))
    return path


def test_attach_goes_to_the_vision_model_under_a_text_only_default(tmp_path: Path, loopback: LoopbackServer, photo: Path) -> None:
    result = ask(write_profile(tmp_path, loopback), "--attach", str(photo), "--explain")
    assert result.exit_code == 0, result.stderr
    assert [r.model for r in loopback.requests] == ["eye-model"]
    assert "skipped text: cannot take images (vision)" in result.stderr
    assert "attached: image/png 3x2, 1 KB, from" in flat(result.stderr) and "photo.png" in result.stderr


def test_a_router_rule_sends_images_to_the_vision_branch(tmp_path: Path, loopback: LoopbackServer, photo: Path) -> None:
    profile = write_profile(tmp_path, loopback, strategy="{rules: [{when: {modality: image}, use: eye}], default: text}")
    assert ask(profile, "--attach", str(photo)).exit_code == 0
    assert ask(profile, prompt="plain text").exit_code == 0
    assert [r.model for r in loopback.requests] == ["eye-model", "text-model"]


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_each_vendor_gets_the_image_in_its_documented_shape(tmp_path: Path, loopback: LoopbackServer, photo: Path, kind: str) -> None:
    result = ask(write_profile(tmp_path, loopback, kinds=(kind, kind)), "--attach", str(photo))
    assert result.exit_code == 0, result.stderr
    body = loopback.requests[0].body
    encoded = base64.b64encode(png(3, 2)).decode()
    if kind == "openai":
        assert body["messages"][-1]["content"] == [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}},
        ]
    elif kind == "anthropic":
        assert body["messages"][-1]["content"] == [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": encoded}},
            {"type": "text", "text": "What is in this picture?"},
        ]
    else:
        assert body["contents"][-1]["parts"] == [{"inlineData": {"mimeType": "image/png", "data": encoded}}, {"text": "What is in this picture?"}]


def test_attach_dash_reads_the_image_from_standard_input(tmp_path: Path, loopback: LoopbackServer) -> None:
    result = ask(write_profile(tmp_path, loopback), "--attach", "-", input=jpeg(64, 48))
    assert result.exit_code == 0, result.stderr
    assert loopback.requests[0].body["messages"][-1]["content"][1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    no_prompt = CliRunner().invoke(app, ["ask", "--profile", str(write_profile(tmp_path, loopback)), "--attach", "-"], input=jpeg())
    assert no_prompt.exit_code == 2 and "give the prompt as an argument" in no_prompt.stderr


@pytest.mark.parametrize("make", ["text", "dir", "fifo", "device", "missing"])
def test_what_is_not_an_image_file_is_refused_before_any_call(tmp_path: Path, loopback: LoopbackServer, make: str) -> None:
    path = tmp_path / "thing"
    if make == "text":
        path.write_text("just words")
    elif make == "dir":
        path.mkdir()
    elif make == "fifo":
        os.mkfifo(path)  # a writer that closes without writing: read as empty, not an image
        threading.Thread(target=lambda: open(path, "wb").close(), daemon=True).start()
    elif make == "device":
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, 3))  # a character device, in the temporary directory
    result = ask(write_profile(tmp_path, loopback), "--attach", str(path))
    assert result.exit_code == 2, result.stderr
    assert str(path) in result.stderr
    assert loopback.requests == []


# Anthropic measures its 5 MB on the base64 text: 4 MB of bytes is 5.3 MB sent, and refused.
@pytest.mark.parametrize("raw_mb", [6, 4])
def test_an_image_too_big_for_one_vendor_skips_its_models(tmp_path: Path, loopback: LoopbackServer, raw_mb: int) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(png(3, 2) + b"\0" * (raw_mb * 1024 * 1024))
    models = "{rules: [{when: {modality: image}, use: {fallback: [text, eye]}}], default: text}"
    profile = write_profile(tmp_path, loopback, kinds=("anthropic", "openai"), strategy=models,
                            extra="")
    profile.write_text(profile.read_text().replace("capabilities: {vision: false}", "capabilities: {vision: true}"))
    result = ask(profile, "--attach", str(big), "--explain")
    assert result.exit_code == 0, result.stderr
    assert [r.model for r in loopback.requests] == ["eye-model"]
    assert "more than the 5 MB an image may be (Anthropic vision docs)" in flat(result.stderr)


def test_an_animated_gif_skips_openai_models(tmp_path: Path, loopback: LoopbackServer) -> None:
    moving = tmp_path / "moving.gif"
    moving.write_bytes(animated_gif(2))
    profile = write_profile(tmp_path, loopback, kinds=("openai", "anthropic"))
    profile.write_text(profile.read_text().replace("capabilities: {vision: false}", "capabilities: {vision: true}"))
    result = ask(profile, "--attach", str(moving), "--explain")
    assert result.exit_code == 0, result.stderr
    assert [r.model for r in loopback.requests] == ["eye-model"]
    assert "is an animated GIF, which it does not take (OpenAI images and vision guide)" in flat(result.stderr)


def test_the_prompt_counts_toward_a_request_size_limit(tmp_path: Path, loopback: LoopbackServer) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(png(3, 2) + b"\0" * (15 * 1024 * 1024 - 200))  # just under Gemini's 20 MB in base64
    profile = write_profile(tmp_path, loopback, kinds=("gemini", "openai"))
    profile.write_text(profile.read_text().replace("capabilities: {vision: false}", "capabilities: {vision: true}"))
    result = ask(profile, "--attach", str(big), "--explain", prompt="describe " * 30_000)
    assert result.exit_code == 0, result.stderr
    assert [r.model for r in loopback.requests] == ["eye-model"]
    assert "MB a request may carry (Gemini image understanding docs)" in flat(result.stderr)


def test_an_image_no_vendor_takes_is_refused_before_any_spend(tmp_path: Path, loopback: LoopbackServer) -> None:
    animated = tmp_path / "anim.gif"
    animated.write_bytes(gif())
    result = ask(write_profile(tmp_path, loopback, kinds=("gemini", "gemini")), "--attach", str(animated))
    assert result.exit_code == 2
    assert "no model in this profile can serve this request" in result.stderr and "does not take" in result.stderr
    assert loopback.requests == []


def test_under_local_only_images_go_only_to_local_models_unless_the_profile_allows(tmp_path: Path, loopback: LoopbackServer, photo: Path) -> None:
    profile = write_profile(tmp_path, loopback, extra="privacy: {pii: local_only}\n")
    refused = ask(profile, "--attach", str(photo))
    assert refused.exit_code == 2 and "images" in refused.stderr and loopback.requests == []
    allowed = write_profile(tmp_path, loopback, extra="privacy: {pii: local_only, images: allow}\n")
    assert ask(allowed, "--attach", str(photo)).exit_code == 0
    local = write_profile(tmp_path, loopback, extra="privacy: {images: local_only}\n")
    local.write_text(local.read_text().replace("capabilities: {vision: true}", "capabilities: {vision: true}, local: true"))
    assert ask(local, "--attach", str(photo)).exit_code == 0
    assert [r.model for r in loopback.requests] == ["eye-model", "eye-model"]


def test_batch_rows_carry_images_by_path_and_as_data_uri_parts(tmp_path: Path, loopback: LoopbackServer) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "cat.png").write_bytes(png(3, 2))
    uri = "data:image/gif;base64," + base64.b64encode(gif()).decode()
    rows = [
        {"id": "path", "prompt": "What is this?", "images": ["pics/cat.png"]},
        {"id": "parts", "messages": [{"role": "user", "content": [{"type": "text", "text": "And this?"}, {"type": "image_url", "image_url": {"url": uri}}]}]},
        {"id": "remote", "prompt": "x", "images": ["https://example.com/cat.png"]},
        {"id": "text", "prompt": "no image"},
    ]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = run_cli(str(data), "-P", str(write_profile(tmp_path, loopback)), "--no-cache", "-c", "1")
    out = {row["id"]: row for row in read_jsonl(tmp_path / "in.out.jsonl")}
    assert out["path"]["status"] == out["parts"]["status"] == out["text"]["status"] == "done"
    assert out["path"]["model"].endswith("eye-model") and out["parts"]["model"].endswith("eye-model") and out["text"]["model"].endswith("text-model")
    assert "never fetches a URL" in (tmp_path / "in.errors.jsonl").read_text()
    assert result.exit_code == 1


def test_a_named_pipe_nobody_writes_to_is_an_error_after_a_bounded_wait(tmp_path: Path) -> None:
    from mmo.core.errors import ConfigError
    from mmo.spec.input_files import read_small_bytes

    path = tmp_path / "silent.fifo"
    os.mkfifo(path)
    with pytest.raises(ConfigError) as raised:
        read_small_bytes(path, "--attach", 1024, hint="give a file", pipe_wait_s=0.2)
    assert "nothing was written to the pipe" in raised.value.message  # after the wait given, not a hang


def test_a_per_request_budget_counts_the_images_tokens(tmp_path: Path, loopback: LoopbackServer) -> None:
    """1092x1092 is 1,590 Anthropic tokens: at $300 per million input tokens, $0.48 before any text."""
    profile = tmp_path / "budget.yaml"
    profile.write_text(
        f"providers:\n  claude: {{kind: anthropic, base_url: '{loopback.anthropic_base_url}', key: none}}\n"
        "models:\n  c: {model: 'claude:claude-eye', capabilities: {vision: true}, price: {input: 300, output: 1}}\n"
        "defaults: {max_tokens: 10}\nbudget: {per_request_usd: 0.1}\nstrategy: c\n"
    )
    photo = tmp_path / "square.png"
    photo.write_bytes(png(1092, 1092))
    assert ask(profile, prompt="What is this?").exit_code == 0
    refused = ask(profile, "--attach", str(photo), prompt="What is this?")
    assert refused.exit_code == 4, refused.stderr
    assert len(loopback.requests) == 1  # the image request was never sent


def test_a_batch_dry_run_counts_the_images(tmp_path: Path, loopback: LoopbackServer) -> None:
    (tmp_path / "a.png").write_bytes(png(2048, 2048))
    with_image, plain = tmp_path / "in.jsonl", tmp_path / "plain.jsonl"
    with_image.write_text(json.dumps({"prompt": "What?", "images": ["a.png"]}) + "\n")
    plain.write_text(json.dumps({"prompt": "What?"}) + "\n")
    profile = write_profile(tmp_path, loopback, kinds=("anthropic", "anthropic"), strategy="eye")
    counted = run_cli(str(with_image), "-P", str(profile), "--dry-run")
    bare = run_cli(str(plain), "-P", str(profile), "--dry-run")
    assert counted.exit_code == 0 and bare.exit_code == 0, counted.stderr + bare.stderr
    assert loopback.requests == []
    # 2048x2048 is scaled to 1095 x 1095 px by Anthropic's rule (1568 px, 1.2 megapixels): 1,599 tokens, plus 2 for "What?".
    assert "q:eye-model 1 1,601 " in flat(counted.stdout + counted.stderr)
    assert "q:eye-model 1 2 " in flat(bare.stdout + bare.stderr)


def test_the_replay_provider_answers_a_request_with_an_image(tmp_path: Path, photo: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "--profile", "demo", "--meta", "id=mmlu_pro-153", "--attach", str(photo), "--json", "Which option?"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ok"]


def test_no_image_bytes_reach_the_run_log_or_the_cache(tmp_path: Path, loopback: LoopbackServer) -> None:
    marker = b"MMO-IMAGE-BYTES-MARKER-0123456789"
    photo = tmp_path / "marked.png"
    photo.write_bytes(png(3, 2) + marker)
    assert ask(write_profile(tmp_path, loopback), "--attach", str(photo)).exit_code == 0
    home = Path(os.environ["MMO_HOME"])
    encoded = base64.b64encode(png(3, 2) + marker)
    for path in home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert marker not in content and encoded[-40:] not in content, path

"""What an image's bytes are: its type, sniffed from its signature (never from a file name), and
its size in pixels, read from its header in pure Python (no imaging library).

PNG (IHDR), GIF (logical screen), WebP (VP8, VP8L and VP8X chunks) and JPEG (the first start-of-frame
marker) are read; anything else is not an image mmo sends. A header that cannot be read leaves the
size unknown, and the vendors' token rules then take their largest figure. ``gif_frames`` counts a
GIF's frames (some vendors take only still GIFs) by walking its blocks, bounded by the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Start-of-frame markers that carry the size (not DHT 0xC4, JPG 0xC8 or DAC 0xCC).
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_SCAN_LIMIT = 1 << 20  # bytes walked looking for a frame header before giving up on its size


@dataclass(frozen=True, slots=True)
class ImageInfo:
    media_type: str
    width: int | None
    height: int | None


def sniff_image(data: bytes) -> ImageInfo | None:
    """The image's type and size, or ``None`` when the bytes are not PNG, JPEG, WebP or GIF."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        size = struct.unpack(">II", data[16:24]) if len(data) >= 24 and data[12:16] == b"IHDR" else None
        return _info("image/png", size)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _info("image/gif", struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _info("image/webp", _webp_size(data))
    if data[:3] == b"\xff\xd8\xff":
        return _info("image/jpeg", _jpeg_size(data))
    return None


def _info(media_type: str, size: tuple[int, int] | None) -> ImageInfo:
    if size is None or size[0] <= 0 or size[1] <= 0:
        return ImageInfo(media_type, None, None)
    return ImageInfo(media_type, int(size[0]), int(size[1]))


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the markers to the first start-of-frame (bounded: a hostile file cannot make it loop)."""
    at = 2
    end = min(len(data), _JPEG_SCAN_LIMIT)
    while at + 4 <= end:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _JPEG_SOF and at + 9 <= len(data):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if length < 2:
            return None
        at += 2 + length
    return None


def gif_frames(data: bytes, stop_at: int = 2) -> int:
    """How many frames a GIF holds, counted up to ``stop_at`` (0 for bytes that are not a GIF).

    Every step moves forward through the bytes, so a hostile file ends the walk at its end."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return 0
    at = 13 + _colour_table(data[10])
    frames = 0
    while at < len(data) and frames < stop_at:
        block = data[at]
        if block == 0x2C:  # image descriptor: 9 bytes, a local colour table, the LZW code size, data
            frames += 1
            at = _skip_sub_blocks(data, at + 11 + (_colour_table(data[at + 9]) if at + 9 < len(data) else 0))
        elif block == 0x21:  # extension: its label, then data sub-blocks
            at = _skip_sub_blocks(data, at + 2)
        else:  # the trailer (0x3B) or bytes that are not a GIF block
            break
    return frames


def _colour_table(packed: int) -> int:
    return 3 * (2 << (packed & 0x07)) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, at: int) -> int:
    while at < len(data) and data[at] != 0:
        at += 1 + data[at]
    return at + 1

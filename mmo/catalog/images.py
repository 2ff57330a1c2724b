"""What each vendor accepts of images, and what they cost in tokens, by its documented rules.

Limits (checked before any call by ``mmo.runtime.image_guard``), from the vendors' docs:

* OpenAI (and every OpenAI-compatible server): PNG, JPEG, WebP, non-animated GIF (a GIF of more
  than one frame is refused before the call); up to 500
  images and 50 MB of payload per request (OpenAI "Images and vision" guide);
* Anthropic: up to 100 images per request, each at most 5 MB and 8000 x 8000 px (2000 x 2000 px
  when a request has more than 20), a request at most 32 MB (Anthropic "Vision" docs, "API
  request size limits"). The 5 MB is measured on the base64 text it receives ("image.source.base64:
  image exceeds 5 MB maximum: 5272940 bytes > 5242880 bytes"), so an image's own bytes may be at most
  3.75 MB;
* Gemini: PNG, JPEG, WebP (no GIF); inline data counts toward the 20 MB request size; up to 3,600
  images per request (Gemini "Image understanding" docs).

Image tokens (``image_tokens``), for estimates, budgets and context windows:

* OpenAI: scaled to fit 2048 x 2048, then its shortest side to 768 px; 85 + 170 per 512 px tile
  (gpt-4o-mini: 2,833 + 5,667, billed at its text price); the 32 px-patch models (gpt-4.1-mini,
  gpt-4.1-nano, o4-mini, gpt-5-mini, gpt-5-nano) count patches, at most 1,536, times the model's
  multiplier (1.62, 2.46, 1.72 as OpenAI documents; 1.62 where it does not say);
* Anthropic: width x height / 750, after scaling to fit a 1568 px long side and 1.2 megapixels (about 1,600 tokens);
* Gemini: 258 for an image at most 384 px on both sides, else 258 per 768 x 768 tile.

An image whose size could not be read counts as the largest its vendor bills for one image.
Base64 makes a payload 4/3 of the bytes: the limits are checked on that, and a request's limit on
its base64 images plus its text (in UTF-8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from mmo.catalog.windows import model_name_key
from mmo.core.image_bytes import gif_frames
from mmo.core.types import ImagePart

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImageLimits:
    media_types: tuple[str, ...]
    max_images: int
    max_request_bytes: int  # of the request's base64 images and its text
    max_image_bytes: int | None = None  # of one image in base64, as the vendor measures it
    max_side_px: int | None = None
    many_images: int | None = None  # above this many images, ...
    many_side_px: int | None = None  # ... each side may be at most this
    source: str = ""
    still_gif_only: bool = False  # an animated GIF is refused


_ALL_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
LIMITS: dict[str, ImageLimits] = {
    "openai": ImageLimits(_ALL_TYPES, 500, 50 * MB, source="OpenAI images and vision guide", still_gif_only=True),
    "anthropic": ImageLimits(_ALL_TYPES, 100, 32 * MB, 5 * MB, 8000, 20, 2000, source="Anthropic vision docs"),
    # Gemini takes PNG, JPEG, WebP, HEIC and HEIF: no GIF.
    "gemini": ImageLimits(("image/png", "image/jpeg", "image/webp"), 3600, 20 * MB, source="Gemini image understanding docs"),
}


def base64_size(byte_count: int) -> int:
    return 4 * math.ceil(byte_count / 3)


def image_problem(kind: str, images: Sequence[ImagePart], text_bytes: int = 0) -> str | None:
    """Why a vendor of wire kind ``kind`` would refuse these images, or ``None``. ``text_bytes``
    (the prompt's, in UTF-8) counts with the images toward the request's size limit."""
    limits = LIMITS.get(kind)
    if limits is None or not images:
        return None
    if len(images) > limits.max_images:
        return f"{len(images)} images, more than the {limits.max_images} a request may carry ({limits.source})"
    payload = sum(base64_size(len(image.data)) for image in images) + text_bytes
    if payload > limits.max_request_bytes:
        return (f"{payload / MB:.1f} MB of images in base64 and text, more than the {limits.max_request_bytes // MB} MB "
                f"a request may carry ({limits.source}): send fewer or smaller images")
    side = limits.many_side_px if limits.many_images is not None and len(images) > limits.many_images else limits.max_side_px
    for image in images:
        name = image.source or image.media_type
        if image.media_type not in limits.media_types:
            return f"{name} is {image.media_type}, which it does not take ({', '.join(limits.media_types)}; {limits.source})"
        if limits.still_gif_only and image.media_type == "image/gif" and gif_frames(image.data) > 1:
            return f"{name} is an animated GIF, which it does not take ({limits.source}): send one frame, e.g. `magick '{name}[0]' still.png`"
        encoded = base64_size(len(image.data))
        if limits.max_image_bytes is not None and encoded > limits.max_image_bytes:
            return (f"{name} is {encoded / MB:.1f} MB in base64 ({len(image.data) / MB:.1f} MB of bytes), more than the "
                    f"{limits.max_image_bytes // MB} MB an image may be ({limits.source}): shrink it, e.g. `magick {name} -resize 50% small.jpg`")
        if side is not None and max(image.width or 0, image.height or 0) > side:
            return f"{name} is {image.width} x {image.height} px, more than {side} px a side ({limits.source})"
    return None


_PATCH_MULTIPLIERS = {"gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46, "o4-mini": 1.72, "gpt-5-mini": 1.62, "gpt-5-nano": 2.46}


def image_tokens(kind: str, model: str, image: ImagePart) -> int:
    """Input tokens one image costs on ``model`` (see the module docstring)."""
    if kind == "anthropic":
        return _anthropic_tokens(image)
    if kind == "gemini":
        return _gemini_tokens(image)
    short = model_name_key(model).rsplit("/", 1)[-1]
    patch = next((m for prefix, m in _PATCH_MULTIPLIERS.items() if short.startswith(prefix)), None)
    if patch is not None:
        return math.ceil(_patches(image) * patch)
    base, tile = (2833, 5667) if short.startswith("gpt-4o-mini") else (85, 170)
    return base + tile * _openai_tiles(image)


def _openai_tiles(image: ImagePart) -> int:
    if image.width is None or image.height is None:
        return 6  # the most a 2048 x 768 image can have after scaling
    width, height = float(image.width), float(image.height)
    fit = min(1.0, 2048 / max(width, height))
    width, height = width * fit, height * fit
    shrink = min(1.0, 768 / min(width, height))
    return math.ceil(width * shrink / 512) * math.ceil(height * shrink / 512)


def _patches(image: ImagePart) -> int:
    if image.width is None or image.height is None:
        return 1536
    width, height = image.width, image.height
    patches = math.ceil(width / 32) * math.ceil(height / 32)
    if patches > 1536:
        # OpenAI's rule: scale to 1,536 patches' area, then down so the width is whole patches.
        scale = math.sqrt(32 * 32 * 1536 / (width * height))
        across = width * scale / 32
        scale *= math.floor(across) / across
        patches = math.ceil(width * scale / 32) * math.ceil(height * scale / 32)
    return min(patches, 1536)


def _anthropic_tokens(image: ImagePart) -> int:
    if image.width is None or image.height is None:
        return 1600
    width, height = float(image.width), float(image.height)
    scale = min(1.0, 1568 / max(width, height), math.sqrt(1_200_000 / (width * height)))
    return math.ceil(math.floor(width * scale) * math.floor(height * scale) / 750)  # resized to whole pixels


def _gemini_tokens(image: ImagePart) -> int:
    if image.width is None or image.height is None:
        return 258 * 4
    if image.width <= 384 and image.height <= 384:
        return 258
    return 258 * math.ceil(image.width / 768) * math.ceil(image.height / 768)

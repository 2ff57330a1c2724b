"""Images a request carries: ``mmo ask --attach FILE`` (repeatable; ``-`` is standard input) and
a batch row's images (``"images": ["photo.png"]`` relative to the input file, or OpenAI-style
``image_url`` parts with a ``data:`` URI). Each is read whole within ``MAX_IMAGE_BYTES``, its type
sniffed from its bytes (PNG, JPEG, WebP, GIF; a file name says nothing), its size in pixels read
from its header; anything else is refused before any call with the file and the fix. mmo never
fetches a URL. What each vendor then accepts is checked per model (``mmo.runtime.image_guard``)."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import BinaryIO

from mmo.core.errors import ConfigError
from mmo.core.image_bytes import sniff_image
from mmo.core.types import ImagePart
from mmo.spec.input_files import read_small_bytes

MAX_IMAGE_BYTES = 20 << 20  # more than any vendor takes in one image (their limits are checked per model)
_TYPES = "PNG, JPEG, WebP or GIF"


def image_from_bytes(data: bytes, source: str) -> ImagePart:
    """An image from its bytes; ``ValueError`` naming ``source`` when they are not one mmo sends."""
    info = sniff_image(data)
    if info is None:
        raise ValueError(f"{source} is not a {_TYPES} image (by its bytes): convert it first, e.g. `magick in.tiff out.png`")
    return ImagePart(info.media_type, data, info.width, info.height, source)


def read_attachment(name: str, stdin: BinaryIO | None) -> ImagePart:
    """``--attach NAME``: a file, or ``-`` for standard input (read within the same bound)."""
    if name == "-":
        if stdin is None:
            raise ConfigError("--attach -: there is no standard input to read the image from")
        data = stdin.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise ConfigError(f"--attach -: the image on standard input is larger than {MAX_IMAGE_BYTES >> 20} MiB")
        source = "standard input"
    else:
        data = read_small_bytes(Path(name), "--attach", MAX_IMAGE_BYTES, hint=f"give a {_TYPES} file")
        source = name
    try:
        return image_from_bytes(data, source)
    except ValueError as error:
        raise ConfigError(f"--attach: {error}") from None


def image_from_data_uri(uri: str, where: str) -> ImagePart:
    """An image from a ``data:image/...;base64,...`` URI; remote URLs are refused."""
    if not uri.startswith("data:"):
        raise ValueError(f"{where}: mmo never fetches a URL ({uri[:40]!r}...): give the image as a data: URI or a file path")
    header, comma, payload = uri.partition(",")
    if not comma or not header.endswith(";base64"):
        raise ValueError(f"{where}: expected data:<type>;base64,<data>")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: the data URI is not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"{where}: the image is larger than {MAX_IMAGE_BYTES >> 20} MiB")
    return image_from_bytes(data, where)


def image_from_row_path(name: str, base_dir: Path, where: str) -> ImagePart:
    """A batch row's image file, relative to the input file's directory."""
    path = (base_dir / Path(name).expanduser()) if not Path(name).is_absolute() else Path(name)
    try:
        data = read_small_bytes(path, "image", MAX_IMAGE_BYTES, hint=f"give a {_TYPES} file")
    except ConfigError as error:
        raise ValueError(f"{where}: {error.message}") from None
    return image_from_bytes(data, name)

"""Images in batch rows: a row's ``images`` (file paths relative to the input file, or ``data:``
URIs) go with its last user message, and a message's ``content`` may be OpenAI-style parts::

    {"prompt": "What is in this picture?", "images": ["photos/cat.png"]}
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO..."}}]}]}

Each image is read and checked as ``--attach`` does (``mmo.app.attachments``); a bad one makes the
line malformed, saying why. mmo never fetches a URL.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from mmo.app.attachments import image_from_data_uri, image_from_row_path
from mmo.core.types import ImagePart, Message, Request

MAX_ROW_IMAGES = 500  # more than any vendor takes in one request


def row_images(value: Any, base_dir: Path) -> tuple[ImagePart, ...]:
    """A row's ``images``: a list of paths or data URIs; ``ValueError`` saying what is wrong."""
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        raise ValueError("'images' must be a non-empty list of file paths (relative to the input file) or data: URIs")
    if len(value) > MAX_ROW_IMAGES:
        raise ValueError(f"'images' holds {len(value)} images, more than {MAX_ROW_IMAGES}")
    return tuple(_image(item, base_dir, f"'images'[{index}]") for index, item in enumerate(value))


def parts_message(position: int, role: str, parts: list[Any], base_dir: Path) -> Message:
    """A message whose ``content`` is a list of text and image parts."""
    texts: list[str] = []
    images: list[ImagePart] = []
    for index, part in enumerate(parts):
        where = f"message {position} part {index + 1}"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and isinstance(part.get("image_url"), dict) and isinstance(part["image_url"].get("url"), str):
            images.append(_image(part["image_url"]["url"], base_dir, where))
        else:
            raise ValueError(f"{where} must be {{type: text, text}} or {{type: image_url, image_url: {{url: data:...}}}}")
    if images and role != "user":
        raise ValueError(f"message {position}: only user messages may carry images")
    return Message(role, "\n".join(texts), images=tuple(images))  # type: ignore[arg-type]


def with_images(request: Request, images: tuple[ImagePart, ...]) -> Request:
    """``request`` with ``images`` added to its last user message."""
    messages = list(request.messages)
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            messages[index] = replace(messages[index], images=(*messages[index].images, *images))
            return replace(request, messages=tuple(messages))
    raise ValueError("'images' needs a user message to go with")


def _image(value: str, base_dir: Path, where: str) -> ImagePart:
    if value.startswith("data:") or "://" in value:
        return image_from_data_uri(value, where)
    return image_from_row_path(value, base_dir, where)

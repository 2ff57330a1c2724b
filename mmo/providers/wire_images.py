"""Images in each vendor's request shape (``Message.images``), in the order each vendor
documents as best: OpenAI's (and every OpenAI-compatible server's, Ollama's included) content
parts with ``image_url`` data URIs after the text; Anthropic's ``image`` blocks with a base64
``source`` before the text; Gemini's ``inlineData`` parts before the text."""

from __future__ import annotations

import base64
from typing import Any

from mmo.core.types import ImagePart, Message


def _base64(image: ImagePart) -> str:
    return base64.b64encode(image.data).decode("ascii")


def data_uri(image: ImagePart) -> str:
    return f"data:{image.media_type};base64,{_base64(image)}"


def openai_content(message: Message) -> Any:
    """The message's ``content``: its text alone, or text and image parts."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    parts.extend({"type": "image_url", "image_url": {"url": data_uri(image)}} for image in message.images)
    return parts


def anthropic_image_blocks(message: Message) -> list[dict[str, Any]]:
    return [{"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": _base64(image)}} for image in message.images]


def gemini_image_parts(message: Message) -> list[dict[str, Any]]:
    return [{"inlineData": {"mimeType": image.media_type, "data": _base64(image)}} for image in message.images]

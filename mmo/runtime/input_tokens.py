"""A request's input tokens for one model, counted one way everywhere (budgets and rate limits,
dry runs, context windows): its messages' text through the one token estimator, the tools it
offers (their definitions are sent with the prompt), and its images by the vendor's documented
rule (``mmo.catalog.images``)."""

from __future__ import annotations

import json

from mmo.catalog.catalog import Catalog
from mmo.catalog.images import image_tokens
from mmo.core.protocols import TokenCounter
from mmo.core.target import ModelTarget
from mmo.core.types import ModelRef, Request


def request_input_tokens(request: Request, ref: ModelRef, tokens: TokenCounter, kind: str = "") -> int:
    """``kind`` is the wire kind of the model's provider (``openai``, ``anthropic``, ``gemini``),
    which decides how its images count; unknown kinds count them as OpenAI does."""
    counted = tokens.estimate(request.prompt_text(), ref.id)
    if request.params.tools:
        counted += tokens.estimate(json.dumps([tool.to_dict() for tool in request.params.tools]), ref.id)
    for message in request.messages:
        counted += sum(image_tokens(kind, ref.name, image) for image in message.images)
    return counted


def provider_kind(target: ModelTarget, catalog: Catalog) -> str:
    """The wire kind of the target's provider ("" when the catalogue does not know it)."""
    endpoint = catalog.endpoint(target.ref.provider)
    return endpoint.kind if endpoint is not None else ""

"""How an answer is read out of a text, as a profile writes it (``extract: choice``, or
``extract: {regex: ...}``); ``mmo.strategies.extract`` does the reading."""

from __future__ import annotations

from typing import Literal

from mmo.spec.base import Spec


class RegexExtractSpec(Spec):
    """Extract the first capture group of a regular expression (the whole match if none)."""

    regex: str


# How an answer is read out of a text; strict_choice accepts only the strict "The answer is (X)" form.
ExtractSpec = Literal["choice", "strict_choice", "number", "json", "text"] | RegexExtractSpec

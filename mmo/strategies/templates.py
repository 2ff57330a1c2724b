"""Prompt templates for pipeline steps: ``{name}`` placeholders and nothing else.

The grammar is ``str.format``'s without its dangerous parts. ``{input}`` and ``{draft}`` are
replaced by text; ``{{`` and ``}}`` are literal braces. Attribute access, indexing, conversions
and format specs (``{draft.__class__}``, ``{draft[0]}``, ``{draft!r}``, ``{draft:>99999}``) are
refused when the template is parsed, because a profile must not be able to reach Python objects
or blow up a prompt. Rendering is one pass over the parsed pieces: a value that itself contains
``{input}`` (a model's answer quoting a template) is inserted as plain text, never expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from mmo.core.errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True, slots=True)
class Piece:
    """Literal text, or (``is_name``) the name of a value to insert."""

    text: str
    is_name: bool = False


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    pieces: tuple[Piece, ...]

    @classmethod
    def parse(cls, source: str, where: str) -> Template:
        """Raises ``ConfigError`` (prefixed by ``where``, e.g. "step 'refine' prompt") when the
        text has anything but ``{name}`` placeholders and doubled braces."""
        pieces: list[Piece] = []
        literal: list[str] = []
        position = 0
        for match in _TOKEN.finditer(source):
            literal.append(source[position : match.start()])
            position = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                literal.append(token[0])
                continue
            name = match.group(1)
            if name is None:
                raise ConfigError(f"{where}: unmatched {token!r} at character {match.start()}; write {{{{ or }}}} for a literal brace")
            if not _NAME.fullmatch(name):
                raise ConfigError(
                    f"{where}: {{{name}}} is not allowed: a placeholder is a plain name such as {{input}} or "
                    f"{{draft}} (no attributes, indexes, conversions or formats); write {{{{ and }}}} for literal braces"
                )
            pieces.append(Piece("".join(literal)))
            literal = []
            pieces.append(Piece(name, is_name=True))
        literal.append(source[position:])
        pieces.append(Piece("".join(literal)))
        return cls(source, tuple(p for p in pieces if p.is_name or p.text))

    @property
    def names(self) -> tuple[str, ...]:
        """The placeholders, in order of first use."""
        return tuple(dict.fromkeys(p.text for p in self.pieces if p.is_name))

    def require_known(self, known: Iterable[str], where: str) -> None:
        """Raise ``ConfigError`` naming the first placeholder that is not in ``known``."""
        allowed = list(known)
        for name in self.names:
            if name not in allowed:
                raise ConfigError(f"{where}: unknown placeholder {{{name}}}; it can use {', '.join('{' + n + '}' for n in allowed)}")

    def render(self, values: Mapping[str, str]) -> str:
        out: list[str] = []
        for piece in self.pieces:
            if not piece.is_name:
                out.append(piece.text)
            elif piece.text in values:
                out.append(values[piece.text])
            else:
                raise ConfigError(f"template placeholder {{{piece.text}}} has no value")
        return "".join(out)

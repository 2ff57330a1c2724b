"""The one answer extractor, used by cascade gates, ensemble votes and bench checks alike, so a
strategy tuned in simulation behaves the same live.

``extract(text, how) -> str | None`` returns a *canonical* answer string (two answers that mean
the same compare equal) or ``None`` when the text holds no such answer. ``how`` is:

``"choice"``
    A multiple-choice letter A-J, exactly as the MMLU-Pro harness (``evaluate_from_api.py``)
    reads it: after removing ``**`` (markdown bold, as the harness does),

    1. the first ``answer is \\(?([A-J])\\)?`` (``The answer is (C)``, ``the answer is C``);
    2. else ``.*[aA]nswer:\\s*([A-J])``: on the first line holding an ``Answer: X``, the last one;
    3. else the last standalone capital letter A-J (``\\b[A-J]\\b``).

    Step 3 is lenient (the English word "I" is a standalone letter), which is why a gate that
    wants the model to have *stated* its choice should use ``strict_choice``.
``"strict_choice"``
    Only the strict form ``answer is (X)`` (parentheses required, first occurrence, after removing
    ``**``): the model stated its choice in the form MMLU-Pro asks for. This is not quite the
    mmlu-pro-routing data's ``format_ok`` (the harness's first step: parentheses optional, ``**``
    kept), which also passes ``The answer is H.``; README "Replay data and the answer extractor"
    compares the two per model.
``"number"``
    The last number in the text, normalised: thousands separators dropped (``1,234.50`` ->
    ``1234.5``), negatives (``-3``, ``−3``; a dash between two numbers is a range, not a sign),
    decimals without a leading zero (``.5``), exponents (``1.5e3`` -> ``1500``), fractions
    ``a/b`` and LaTeX ``\\frac{a}{b}``. Values are exact: a value with a finite decimal expansion is
    written as a plain decimal without trailing zeros (``3/4`` -> ``0.75``, ``2.50`` -> ``2.5``,
    ``-0`` -> ``0``); any other fraction as reduced ``p/q`` (``2/6`` -> ``1/3``). Units, currency
    and percent signs are ignored (``$5``, ``50%`` -> ``5``, ``50``). A number inside a word
    (``H2O``, ``v2``) is not a number, and in a chain such as a date ``12/25/2024`` only the
    first part is.
``"json"``
    The first JSON value in the text: the whole text when it parses, else the first fenced block
    (```` ```json ```` or ```` ``` ````) that parses, else the first ``{...}`` or ``[...]`` that
    parses. Returned as canonical JSON (keys sorted, no spaces, integral floats as integers), so
    ``{"b": 1, "a": 2.0}`` and ``{"a":2,"b":1}`` compare equal. ``NaN`` and ``Infinity`` are
    not JSON.
``"text"``
    The whole text, whitespace collapsed, case-folded, surrounding punctuation and quotes
    stripped (``" Paris. "`` -> ``paris``).
``{regex: PATTERN}``
    The first match's first capture group that took part in the match (the whole match when the
    pattern has no group), stripped of surrounding whitespace.

``extractor(how)`` checks ``how`` once (a bad regular expression is a ``ConfigError``) and
returns the function; builders call it at build time so a profile fails before anything is spent.
``parse_json_answer`` is the stricter reading the JSON gates use: the *whole* answer must be one
JSON value (optionally inside one code fence).
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Callable, Mapping

from mmo.core.errors import ConfigError
from mmo.core.json_answer import loads_strict as _loads
from mmo.core.json_answer import parse_json_answer as parse_json_answer  # re-exported: the gates and checks read it here
from mmo.core.json_answer import reject_constant
from mmo.spec.extract import ExtractSpec, RegexExtractSpec

Extractor = Callable[[str], "str | None"]


EXTRACT_KINDS: tuple[str, ...] = ("choice", "strict_choice", "number", "json", "text")


def extract(text: str, how: ExtractSpec | Mapping[str, str]) -> str | None:
    """The canonical answer ``how`` finds in ``text``, or ``None``."""
    return extractor(how)(text)


def extractor(how: ExtractSpec | Mapping[str, str]) -> Extractor:
    """The extraction function for ``how`` (a kind name, a ``RegexExtractSpec`` or a mapping
    ``{"regex": ...}``); raises ``ConfigError`` when ``how`` is not a valid extractor."""
    pattern = _regex_of(how)
    if pattern is not None:
        return _regex_extractor(pattern)
    if isinstance(how, str) and how in _NAMED:
        return _NAMED[how]
    raise ConfigError(f"unknown answer extractor {how!r}: use one of {', '.join(EXTRACT_KINDS)} or {{regex: PATTERN}}")


def describe(how: Any) -> str:
    """How an extractor is named in notes and reasons: ``choice``, ``regex /x(\\d)/``."""
    pattern = _regex_of(how)
    return f"regex /{pattern}/" if pattern is not None else str(how)


def _regex_of(how: Any) -> str | None:
    if isinstance(how, RegexExtractSpec):
        return how.regex
    if isinstance(how, Mapping) and set(how) == {"regex"}:
        return str(how["regex"])
    return None


# ---- choice -------------------------------------------------------------------------------------

_HARNESS_ANSWER_IS = re.compile(r"answer is \(?([A-J])\)?")
_HARNESS_ANSWER_COLON = re.compile(r".*[aA]nswer:\s*([A-J])")
_ANSWER_COLON_ANYWHERE = re.compile(r"[aA]nswer:\s*[A-J]")
_STANDALONE_LETTER = re.compile(r"\b[A-J]\b")
_STRICT_ANSWER_IS = re.compile(r"answer is \(([A-J])\)")


def choice(text: str) -> str | None:
    """The MMLU-Pro harness's letter (see the module docstring), or ``None``."""
    text = text.replace("**", "")
    found = _HARNESS_ANSWER_IS.search(text)
    if found:
        return found.group(1)
    letter = _answer_colon(text)
    if letter is not None:
        return letter
    letters = _STANDALONE_LETTER.findall(text)
    return letters[-1] if letters else None


def strict_choice(text: str) -> str | None:
    """The letter of the first ``answer is (X)``, parentheses required, or ``None``."""
    found = _STRICT_ANSWER_IS.search(text.replace("**", ""))
    return found.group(1) if found else None


def _answer_colon(text: str) -> str | None:
    # The harness runs re.search(r".*[aA]nswer:\s*([A-J])", text), which is quadratic on a long
    # line without a match. Every start before the first line that holds an "Answer: X" fails
    # (".*" cannot cross a newline), so matching from that line's start gives the same letter.
    first = _ANSWER_COLON_ANYWHERE.search(text)
    if first is None:
        return None
    line_start = text.rfind("\n", 0, first.start()) + 1
    found = _HARNESS_ANSWER_COLON.match(text, line_start)
    return found.group(1) if found else None


# ---- number -------------------------------------------------------------------------------------

_NUMBER = re.compile(
    r"\\[dt]?frac\{\s*(?P<frac_num>[-\u2212]?\d+)\s*\}\{\s*(?P<frac_den>[-\u2212]?\d+)\s*\}"
    r"|(?<![\w./])(?P<sign>[-\u2212])?"
    r"(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[-+]?\d{1,3})(?!\d))?"
    r"(?:\s*/\s*(?P<den>\d+(?:\.\d+)?)(?![\d/]))?"
)


def number(text: str) -> str | None:
    """The last number in ``text``, normalised (see the module docstring), or ``None``."""
    for found in reversed(list(_NUMBER.finditer(text))):
        value = _number_value(found)
        if value is not None:
            return format_number(value)
    return None


def _number_value(found: re.Match[str]) -> Fraction | None:
    if found.group("frac_num") is not None:
        numerator, denominator = (_int(found.group(name)) for name in ("frac_num", "frac_den"))
        return Fraction(numerator, denominator) if denominator else None
    value: Fraction = Fraction(found.group("digits").replace(",", ""))
    if found.group("exp") is not None:
        value *= Fraction(10) ** int(found.group("exp"))
    if found.group("den") is not None:
        divisor = Fraction(found.group("den"))
        if not divisor:
            return None
        value /= divisor
    return -value if found.group("sign") else value


def _int(text: str) -> int:
    return int(text.replace("\u2212", "-"))


def format_number(value: Fraction) -> str:
    """A plain decimal when ``value`` has a finite decimal expansion, else reduced ``p/q``."""
    if value.denominator == 1:
        return str(value.numerator)
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


# ---- json ---------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*(?:[A-Za-z0-9_+-]+)?[ \t]*\n(.*?)```", re.DOTALL)
_MISSING: Any = object()


def json_answer(text: str) -> str | None:
    """The first JSON value in ``text`` as canonical JSON, or ``None``."""
    value = first_json_value(text)
    return None if value is _MISSING else canonical_json(value)


def first_json_value(text: str) -> Any:
    """The first JSON value in ``text`` (see the module docstring); ``_MISSING`` if none."""
    for candidate in (text, *(m.group(1) for m in _FENCE.finditer(text))):
        try:
            return _loads(candidate)
        except ValueError:
            continue
    decoder = json.JSONDecoder(parse_constant=reject_constant)
    for start in (i for i, char in enumerate(text) if char in "{["):
        try:
            return decoder.raw_decode(text, start)[0]
        except ValueError:
            continue
    return _MISSING


def canonical_json(value: Any) -> str:
    return json.dumps(_integral_floats(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _integral_floats(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats(item) for item in value]
    return value


# ---- text and regex -----------------------------------------------------------------------------

_EDGE_PUNCTUATION = " .,;:!?\"'`()[]{}*_\u2018\u2019\u201c\u201d"


def normalised_text(text: str) -> str | None:
    """Whitespace collapsed, case-folded, surrounding punctuation stripped; ``None`` if empty."""
    folded = " ".join(text.split()).casefold().strip(_EDGE_PUNCTUATION)
    return folded or None


def _regex_extractor(pattern: str) -> Extractor:
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"extract regex {pattern!r} is not a valid regular expression: {error}") from None

    def from_regex(text: str) -> str | None:
        found = compiled.search(text)
        if found is None:
            return None
        if compiled.groups == 0:
            value = found.group(0)
        else:
            taking_part = [group for group in found.groups() if group is not None]
            if not taking_part:
                return None
            value = taking_part[0]
        return value.strip() or None

    return from_regex


_NAMED: Mapping[str, Extractor] = MappingProxyType(
    {
        "choice": choice,
        "strict_choice": strict_choice,
        "number": number,
        "json": json_answer,
        "text": normalised_text,
    }
)

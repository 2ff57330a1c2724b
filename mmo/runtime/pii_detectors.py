"""One detector per kind of personal data: a regular expression for candidates, then the checks
that keep only real ones (``mmo.runtime.pii_checksums``). ``mmo.runtime.pii`` documents what each
detects and merges their findings.

Every pattern is anchored by look-arounds so it cannot start inside a longer word or number, and
is written so that no input makes it backtrack more than a bounded number of steps per position.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable, Iterator

from mmo.runtime.pii_checksums import (
    IBAN_LENGTHS,
    canada_sin_valid,
    card_number_valid,
    iban_valid,
    italy_codice_fiscale_valid,
    spain_dni_valid,
    uk_nino_valid,
    us_ssn_valid,
)
from mmo.runtime.pii_secrets import find_secrets
from mmo.runtime.pii_types import PiiFinding

Detector = Callable[[str], Iterator[PiiFinding]]

# How far back (characters) a cue word such as "phone" or "order" may stand before a number.
CUE_WINDOW = 24


def _before(text: str, start: int, cue: re.Pattern[str]) -> bool:
    return cue.search(text, max(0, start - CUE_WINDOW), start) is not None


# ---- e-mail ----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?P<tld>[A-Za-z]{2,24})(?![\w-])"
)
# `icon@2x.png`: retina image names have the shape of an address.
_FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif"})


def find_emails(text: str) -> Iterator[PiiFinding]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        if match.group("tld").lower() not in _FILE_EXTENSIONS:
            yield PiiFinding("email", match.start(), match.end())


# ---- phone numbers ---------------------------------------------------------------------------

# Digit groups joined by one separator each (or nothing after a parenthesised group), so a long
# run of digits can be split only one way and matching stays linear.
_PHONE_GROUP = r"(?:\(\d{1,5}\)|\d+)"
_PHONE = re.compile(rf"(?<![\w+\-./,$€£])(?P<plus>\+)?{_PHONE_GROUP}(?:(?:[ .\-]|(?<=\))){_PHONE_GROUP})*(?![\w\-])")
_PHONE_CUE = re.compile(r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|call|whatsapp|sms|dial)\b[^\d\n]{0,16}\Z")
# Right before the number: it identifies an order, a book, a version... not a person.
_ID_CUE = re.compile(
    r"(?i)\b(?:order|invoice|isbn|issn|ref|reference|tracking|serial|sku|part|account|acct|id|version|ver|v)"
    r"\s*(?:no\b\.?|nr\b\.?|number|#)?\s*[.:#]?\s*\Z"
)
_NUMBERING_CUE = re.compile(r"(?i)(?:#|\b(?:no|nr|number))\s*[.:#]?\s*\Z")
_NANP = re.compile(r"(?:1[ .\-]?)?\(?[2-9]\d\d\)?[ .\-]?[2-9]\d\d[ .\-]\d{4}")


def find_phones(text: str) -> Iterator[PiiFinding]:
    for match in _PHONE.finditer(text):
        candidate = match.group()
        if _is_phone(candidate, match.group("plus") is not None, text, match.start()):
            yield PiiFinding("phone", match.start(), match.end())


def _is_phone(candidate: str, plus: bool, text: str, start: int) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if len(digits) < 7 or _before(text, start, _ID_CUE):
        return False
    if _before(text, start, _PHONE_CUE):  # "phone no. 5551234567", "call me at ..."
        return len(digits) <= 15
    if _before(text, start, _NUMBERING_CUE):
        return False
    separators = set(re.sub(r"[\d()]", "", candidate))
    if plus or (candidate.startswith("00") and len(separators) == 1):  # "0044 20 7946 0958"
        national = digits if plus else digits[2:]
        return 8 <= len(national) <= 15 and national[0] != "0"
    if _NANP.fullmatch(candidate):
        return True
    return _is_national_trunk_format(digits, candidate, separators)


def _is_national_trunk_format(digits: str, candidate: str, separators: set[str]) -> bool:
    """``020 7946 0958``, ``01 23 45 67 89``, ``030-1234567``: a trunk 0, 10-11 digits, and one
    kind of separator between groups of two or more digits (a date and time mixes them)."""
    if not (digits[0] == "0" and digits[1] != "0" and 10 <= len(digits) <= 11):
        return False
    groups = re.findall(r"\d+", candidate)
    between_groups = separators - {" "} if "(" in candidate else separators  # "(020) 7946 0958"
    return 2 <= len(groups) <= 6 and len(between_groups) <= 1 and min(map(len, groups)) >= 2


# ---- payment cards ---------------------------------------------------------------------------

_CARD = re.compile(r"(?<![\w\-.])\d(?:[ \-]?\d){12,18}(?![\w\-]|\.\d)")
_AMEX_GROUPS = ((4, 6, 5), (4, 6, 4))


def find_cards(text: str) -> Iterator[PiiFinding]:
    for match in _CARD.finditer(text):
        groups = tuple(len(g) for g in re.split(r"[ \-]", match.group()))
        if _card_grouping(groups) and card_number_valid(re.sub(r"\D", "", match.group())):
            yield PiiFinding("card", match.start(), match.end())


def _card_grouping(groups: tuple[int, ...]) -> bool:
    """Printed the way cards are: in one piece, in fours, or Amex / Diners 4-6-5 / 4-6-4."""
    return len(groups) == 1 or groups in _AMEX_GROUPS or (all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4)


# ---- IBAN ------------------------------------------------------------------------------------

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])(?P<country>[A-Z]{2})\d{2}(?=[ ]?[A-Z0-9])")


def find_ibans(text: str) -> Iterator[PiiFinding]:
    for match in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(match.group("country"))
        if length is None:
            continue
        end = _iban_end(text, match.end(), length - 4)
        if end is not None and iban_valid(re.sub(" ", "", text[match.start() : end])):
            yield PiiFinding("iban", match.start(), end)


def _iban_end(text: str, position: int, wanted: int) -> int | None:
    """Where the IBAN ends after ``wanted`` more characters (single spaces allowed between them),
    or ``None`` when the text runs out or the number runs on past its length."""
    taken = 0
    while taken < wanted:
        if position < len(text) and text[position] == " ":
            position += 1
        if position >= len(text) or not ("A" <= text[position] <= "Z" or text[position].isdigit()):
            return None
        position += 1
        taken += 1
    return None if position < len(text) and text[position].isalnum() else position


# ---- national identity numbers ---------------------------------------------------------------

# One pass for every identity number; the group that matched says which one it may be.
_NATIONAL_ID = re.compile(
    r"(?<![\w\-])(?:"
    r"(?P<us_ssn>(?P<area>\d{3})(?P<ssn_sep>[- ])(?P<group>\d{2})(?P=ssn_sep)(?P<serial>\d{4}))"
    r"|(?P<ca_sin>\d{3}(?P<sin_sep>[- ])\d{3}(?P=sin_sep)\d{3})"
    r"|(?P<bare_nine>\d{9})"
    r"|(?P<es_dni>(?P<dni_number>\d{8}|[XYZ][ \-]?\d{7})[ \-]?(?P<dni_letter>[A-Z]))"
    r"|(?P<uk_nino>(?P<nino_prefix>[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D])"
    r"|(?P<it_codice_fiscale>[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z])"
    r")(?![\w\-])"
)
_SSN_CUE = re.compile(r"(?i)\b(?:ssn|ss#|social security(?: number| no\.?)?)\W{0,4}\Z")


def find_national_ids(text: str) -> Iterator[PiiFinding]:
    for match in _NATIONAL_ID.finditer(text):
        kind = _national_id_kind(match, text)
        if kind is not None:
            yield PiiFinding("national_id", match.start(), match.end(), kind)


def _national_id_kind(match: re.Match[str], text: str) -> str | None:
    kind = match.lastgroup
    digits = re.sub(r"\D", "", match.group())
    if kind == "us_ssn":
        valid = us_ssn_valid(match.group("area"), match.group("group"), match.group("serial"))
    elif kind == "ca_sin":
        valid = canada_sin_valid(digits)
    elif kind == "bare_nine":  # nine bare digits are an SSN only when the text says so
        kind, valid = "us_ssn", _before(text, match.start(), _SSN_CUE) and us_ssn_valid(digits[:3], digits[3:5], digits[5:])
    elif kind == "es_dni":
        valid = spain_dni_valid(re.sub(r"[ \-]", "", match.group("dni_number")), match.group("dni_letter"))
    elif kind == "uk_nino":
        valid = uk_nino_valid(match.group("nino_prefix"))
    else:
        valid = kind == "it_codice_fiscale" and italy_codice_fiscale_valid(match.group())
    return kind if valid else None


# ---- IP addresses ----------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])({_OCTET}(?:\.{_OCTET}){{3}})(?!\.?\d|\w)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
# Cheap scans for the one piece every address must have; most prompts have neither.
_IPV4_HINT = re.compile(r"\.\d{1,3}\.")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_VERSION_CUE = re.compile(r"(?i)\b(?:version|ver|release|build|v)\s*\Z")


def find_ips(text: str) -> Iterator[PiiFinding]:
    if _IPV4_HINT.search(text):
        yield from _find_ipv4(text)
    if _IPV6_HINT.search(text):
        yield from _find_ipv6(text)


def _find_ipv4(text: str) -> Iterator[PiiFinding]:
    for match in _IPV4.finditer(text):
        address = ipaddress.IPv4Address(match.group())
        if _identifies_a_host(address) and address.packed[0] not in (0, 255) and not _before(text, match.start(), _VERSION_CUE):
            yield PiiFinding("ip", match.start(), match.end(), "ipv4")


def _find_ipv6(text: str) -> Iterator[PiiFinding]:
    for match in _IPV6.finditer(text):
        candidate = match.group()
        groups = [group for group in candidate.split(":") if group]
        # Real addresses are compressed (::) or have a four-digit group (2001:, fe80:); rows of
        # small numbers such as "1:8:28:70:56:28:8:1" are not addresses.
        if len(groups) < 3 or ("::" not in candidate and max(map(len, groups)) < 4):
            continue
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        if _identifies_a_host(address):
            yield PiiFinding("ip", match.start(), match.end(), "ipv6")


def _identifies_a_host(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, unspecified and multicast addresses name no machine or person."""
    return not (address.is_loopback or address.is_unspecified or address.is_multicast)


DETECTORS: tuple[Detector, ...] = (find_secrets, find_emails, find_ibans, find_cards, find_national_ids, find_ips, find_phones)

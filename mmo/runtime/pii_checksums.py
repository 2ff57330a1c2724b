"""Check digits and issuing rules that tell a real identifier from text that merely has its shape.

The PII detector finds candidates with regular expressions and keeps only those that pass these
checks, which is where its precision comes from: a random 16-digit number passes the Luhn check
one time in ten and also needs a card network's prefix; a random IBAN-shaped string passes mod-97
one time in 97 and also needs its country's exact length. Every function here is pure.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards and Canadian SINs. ``digits`` only digits."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# Issuer prefixes (IIN ranges) and lengths of the card networks people paste: Visa, Mastercard,
# American Express, Discover, JCB, Diners Club, UnionPay and Maestro. A Luhn-valid number with no
# network prefix (an ISBN-13 starts with 978/979, for example) is not a card.
_CARD_PREFIX_LENGTHS: tuple[tuple[tuple[int, int], tuple[int, ...]], ...] = (
    ((4, 4), (13, 16, 19)),  # Visa
    ((51, 55), (16,)),  # Mastercard
    ((2221, 2720), (16,)),  # Mastercard 2-series
    ((34, 34), (15,)),  # American Express
    ((37, 37), (15,)),
    ((6011, 6011), (16, 19)),  # Discover
    ((644, 649), (16, 19)),
    ((65, 65), (16, 19)),
    ((3528, 3589), (16, 19)),  # JCB
    ((300, 305), (14,)),  # Diners Club
    ((36, 36), (14,)),
    ((38, 39), (14, 16)),
    ((62, 62), (16, 17, 18, 19)),  # UnionPay
    ((50, 50), (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
    ((56, 58), (12, 13, 14, 15, 16, 17, 18, 19)),
    ((67, 67), (12, 13, 14, 15, 16, 17, 18, 19)),
)


def card_number_valid(digits: str) -> bool:
    """A known card network's prefix and length, a Luhn-valid number, and not one digit repeated."""
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    return _card_network_known(digits) and luhn_valid(digits)


def _card_network_known(digits: str) -> bool:
    for (low, high), lengths in _CARD_PREFIX_LENGTHS:
        prefix = int(digits[: len(str(low))])
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


# IBAN length per country (ISO 13616 registry, SWIFT release 2024).
IBAN_LENGTHS: Mapping[str, int] = MappingProxyType(
    {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
        "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
        "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
        "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
        "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
        "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
        "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
        "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
        "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
        "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
    }
)  # fmt: skip


def iban_valid(compact: str) -> bool:
    """ISO 13616: the country's length, then the mod-97 check over the rearranged number.
    ``compact`` is upper case with no spaces."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# Numbers printed on sample cards and in advertising, which the SSA voided.
_VOIDED_SSNS: frozenset[str] = frozenset({"078051120", "219099999"})


def us_ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA rules: no area 000, 666 or 900-999 (never issued), no group 00, no serial 0000."""
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _VOIDED_SSNS


_NINO_BAD_PREFIXES: frozenset[str] = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def uk_nino_valid(prefix: str) -> bool:
    """HMRC: the letter pairs never allocated (the letters D F I Q U V are excluded by the pattern)."""
    return prefix not in _NINO_BAD_PREFIXES


def canada_sin_valid(digits: str) -> bool:
    """Nine digits, Luhn-valid; 0 (never issued) and 8 (business numbers) are not persons' SINs."""
    return len(digits) == 9 and digits[0] not in "08" and luhn_valid(digits)


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def spain_dni_valid(number: str, letter: str) -> bool:
    """Spanish DNI (8 digits) or NIE (X/Y/Z then 7 digits): the letter is the number mod 23."""
    head = number[0]
    if head in "XYZ":
        number = str("XYZ".index(head)) + number[1:]
    return number.isdigit() and _DNI_LETTERS[int(number) % 23] == letter


_CF_ODD_VALUES = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)


def italy_codice_fiscale_valid(code: str) -> bool:
    """The 16th character of an Italian fiscal code is a check letter over the first 15."""
    total = 0
    for index, char in enumerate(code[:15]):
        rank = int(char) if char.isdigit() else ord(char) - 65
        total += _CF_ODD_VALUES[rank] if index % 2 == 0 else rank
    return chr(65 + total % 26) == code[15]

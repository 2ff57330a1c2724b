"""Personal data and secrets in a prompt: what the router's ``pii`` rule and the privacy guard see.

``detect_pii(text)`` returns where each finding is and what kind it is, never the value itself,
because findings end up in the decision trace and the run log. Kinds:

==============  ==============================================================================
``email``       an address with a real-looking domain (not ``icon@2x.png``)
``phone``       international (``+44 20 7946 0958``, ``0044 ...``), North American
                (``(415) 555-0132``), national trunk-0 formats (``020 7946 0958``,
                ``01 23 45 67 89``), or any 7-15 digit run right after a word like "phone" or
                "call"; never after "order", "invoice", "ISBN", "#" and the like
``card``        13-19 digits (spaces or dashes in groups of four, or Amex 4-6-5) with a card
                network's prefix and a valid Luhn check
``iban``        country code, check digits, the country's exact length, valid mod-97
``national_id`` US SSN (``123-45-6789`` shape; the never-issued ranges excluded; nine bare digits
                only after "SSN" or "social security"), UK National Insurance number, Canadian
                SIN (``046 454 286``, Luhn), Spanish DNI / NIE (check letter), Italian codice
                fiscale (check letter)
``ip``          IPv4 and IPv6 addresses, except loopback, unspecified, netmasks and broadcast
``secret``      API keys (``sk-...``, ``AKIA...``, ``ghp_...``, ``xox?-...``, ``AIza...``,
                Stripe ``sk_live_...``), JWTs, private-key blocks, and long random-looking
                strings (see ``mmo.runtime.pii_secrets``)
==============  ==============================================================================

Deliberately *not* personal data: dates, years, prices, version strings, UUIDs, hex digests (git
commits, checksums), ISBNs and other numbers without a check that says otherwise. When findings
overlap, the most specific kind wins (a secret over an e-mail address over an IBAN over a card
over an identity number over an IP address over a phone number).

Patterns are compiled once, at import, and written to run in linear time on long prompts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import Iterable, Mapping

from mmo.runtime.pii_detectors import DETECTORS
from mmo.runtime.pii_types import PiiFinding

__all__ = ["PII_KINDS", "PiiFinding", "contains_pii", "describe_pii", "detect_pii", "pii_counts"]

PII_KINDS: tuple[str, ...] = ("secret", "email", "iban", "card", "national_id", "ip", "phone")
_PRIORITY: Mapping[str, int] = {kind: rank for rank, kind in enumerate(PII_KINDS)}


def detect_pii(text: str) -> list[PiiFinding]:
    """Every finding in ``text``, in order of position, overlaps resolved by kind priority."""
    hits = [hit for detector in DETECTORS for hit in detector(text)]
    hits.sort(key=lambda hit: (_PRIORITY[hit.kind], hit.start))
    return _without_overlaps(hits)


def _without_overlaps(hits_by_priority: list[PiiFinding]) -> list[PiiFinding]:
    """Keep each hit unless a kept (higher-priority) one overlaps it. Kept hits are disjoint, so
    sorted by start they are sorted by end too, and one neighbour decides (O(n log n))."""
    starts: list[int] = []
    kept: list[PiiFinding] = []
    for hit in hits_by_priority:
        index = bisect_left(starts, hit.end)
        if index and kept[index - 1].end > hit.start:
            continue
        starts.insert(index, hit.start)
        kept.insert(index, hit)
    return kept


def contains_pii(text: str) -> bool:
    return bool(detect_pii(text))


def pii_counts(findings: Iterable[PiiFinding]) -> dict[str, int]:
    """How many findings of each kind, in ``PII_KINDS`` order: what notes and errors may show."""
    counts = Counter(finding.kind for finding in findings)
    return {kind: counts[kind] for kind in PII_KINDS if counts[kind]}


def describe_pii(findings: Iterable[PiiFinding]) -> str:
    """``"email x1, phone x2"``, or ``"none"``: kinds and counts only, never values."""
    counts = pii_counts(findings)
    return ", ".join(f"{kind} x{count}" for kind, count in counts.items()) or "none"

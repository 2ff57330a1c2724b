"""The value a PII detector returns (its own module so every detector can build one)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One piece of personal data: its kind, where it is (``text[start:end]``), and a subkind
    (``us_ssn``, ``aws_access_key``...). The value itself is never kept, so a finding can be
    logged and shown."""

    kind: str
    start: int
    end: int
    detail: str = ""

"""Secret-looking tokens: vendor API keys by their documented prefixes, and random-looking strings.

Vendor patterns are precise (``AKIA`` + 16, ``ghp_`` + 36, ``AIza`` + 35...). The generic check
catches keys with no known prefix: a 24-256 character run of base64 / base62 characters that

* mixes upper case, lower case and digits (at least ``SECRET_MIN_EACH_CLASS`` of each),
* has a Shannon entropy of at least ``SECRET_MIN_ENTROPY_BITS`` per character, and
* is not made of words: at most ``SECRET_MAX_WORDLIKE`` of its characters sit in runs of four or
  more letters of one case or four or more digits (``getUserAccountSettings2``,
  ``Llama-3.1-70B-Instruct``, ``/home/User/src/Main3`` are identifiers, not keys).

On random base62 strings this catches about 90% at 32 characters and 96% at 64 (measured with
``random.choice``); hex digests and UUIDs are never flagged (one case, no mix), and neither are
longer blobs (embedded images, > 256 characters), which are data rather than credentials.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterator

from mmo.runtime.pii_types import PiiFinding

SECRET_MIN_LENGTH = 24
SECRET_MAX_LENGTH = 256
SECRET_MIN_ENTROPY_BITS = 3.7
SECRET_MAX_WORDLIKE = 0.45
SECRET_MIN_EACH_CLASS = 2

# Each pattern starts with a literal, so the regex engine can jump between candidates; that a
# key does not start in the middle of a word is checked in code (a leading look-behind would make
# the engine try every position).
_VENDOR_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(source))
    for name, source in (
        ("private_key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
        # OpenAI, Anthropic (sk-ant-), DeepSeek and others; a real key always has a digit.
        ("api_key", r"sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
        ("stripe_key", r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"),
        ("aws_access_key", r"A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        ("github_token", r"gh(?:[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])"),
        ("slack_token", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
        ("google_api_key", r"AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
        ("jwt", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    )
)

# `password = "..."`, `api_key: ...`: a value right after a credential's name. The value must mix
# letters and digits, which keeps out `password: str`, `secret = settings.SECRET` and `${API_KEY}`.
_ASSIGNED = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)"
    r"[\"']?\s*[:=]\s*[\"']?(?P<value>[A-Za-z0-9!@#%^&*+/._~-]{8,128})"
)

# Substring tests are far cheaper than a case-insensitive scan, and most prompts name no credential.
_CREDENTIAL_WORDS = ("pass", "pwd", "secret", "api_key", "api-key", "apikey", "_token", "-token", "stoken", "htoken")

_CANDIDATE = re.compile(
    rf"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{{{SECRET_MIN_LENGTH},{SECRET_MAX_LENGTH}}}={{0,2}}(?![A-Za-z0-9+/=])"
)
_WORDLIKE_RUN = re.compile(r"[a-z]{4,}|[A-Z]{4,}|[0-9]{4,}")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def find_secrets(text: str) -> Iterator[PiiFinding]:
    for name, pattern in _VENDOR_PATTERNS:
        for match in pattern.finditer(text):
            if not _inside_a_word(text, match.start()):
                yield PiiFinding("secret", match.start(), match.end(), name)
    lowered = text.lower()
    if any(word in lowered for word in _CREDENTIAL_WORDS):
        for match in _ASSIGNED.finditer(text):
            value = match.group("value")
            if _mixes_letters_and_digits(value):
                yield PiiFinding("secret", match.start("value"), match.end("value"), "assigned_secret")
    for match in _CANDIDATE.finditer(text):
        if looks_random(match.group()):
            yield PiiFinding("secret", match.start(), match.end(), "high_entropy")


def looks_random(token: str) -> bool:
    """The generic check described in the module docstring."""
    core = _NOT_ALNUM.sub("", token)
    counts = (sum(c.isupper() for c in core), sum(c.islower() for c in core), sum(c.isdigit() for c in core))
    if min(counts) < SECRET_MIN_EACH_CLASS:
        return False
    wordlike = sum(len(run) for run in _WORDLIKE_RUN.findall(core)) / len(core)
    return wordlike <= SECRET_MAX_WORDLIKE and shannon_entropy(core) >= SECRET_MIN_ENTROPY_BITS


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``'s own character distribution."""
    if not text:
        return 0.0
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in Counter(text).values())


def _inside_a_word(text: str, start: int) -> bool:
    if start == 0:
        return False
    before = text[start - 1]
    return before.isalnum() or before in "_-"


def _mixes_letters_and_digits(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)

"""How numbers read in the terminal: counts, durations, dollars and milliseconds, one way
everywhere. An unknown cost reads "unknown", never "$0", also inside a sum (``partial_dollars``)."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def dollars(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def partial_dollars(known: float, unknown: int, noun: str) -> str:
    """A sum of which ``unknown`` parts (``noun``s: rows, calls) have no price: ``$0.0123`` when
    every part is known, ``$0.0123 + unknown (2 rows)`` when some are not, ``unknown (2 rows)``
    when nothing known was spent."""
    if not unknown:
        return dollars(known)
    what = f"unknown ({plural(unknown, noun)})"
    return what if known == 0 else f"{dollars(known)} + {what}"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"

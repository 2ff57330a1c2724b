"""What the loopback server counts: requests by model, path, fault and status, a bounded list of
request records, and per-prompt counts (how often each last-user text was asked, and answered),
which is how the batch reliability tests prove that no finished row was called twice."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. ``body`` is the parsed JSON (None if it was not JSON)."""

    seq: int
    method: str
    path: str
    model: str | None
    prompt: str | None
    body: Any
    fault: str


@dataclass(frozen=True)
class Stats:
    """A snapshot of the counters. ``total`` counts requests handled (not refused after the
    request cap); ``answered`` those that got a complete success; ``cpu_s`` is the CPU time of
    the whole process the server runs in."""

    total: int
    answered: int
    refused: int
    connections: int
    handler_errors: int
    by_model: dict[str, int] = field(default_factory=dict)
    by_path: dict[str, int] = field(default_factory=dict)
    by_fault: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    uptime_s: float = 0.0
    cpu_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Tally:
    """The counters, safe to read from any thread while the server's loop writes them."""

    def __init__(self, record_limit: int) -> None:
        self._lock = threading.Lock()
        self._record_limit = record_limit
        self._started = time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self._seq = 0
        self._answered = 0
        self._refused = 0
        self._connections = 0
        self._errors: list[str] = []
        self._by_model: Counter[str] = Counter()
        self._by_path: Counter[str] = Counter()
        self._by_fault: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._prompts: Counter[str] = Counter()
        self._answered_prompts: Counter[str] = Counter()
        self._records: deque[RequestRecord] = deque(maxlen=self._record_limit)

    def reset(self) -> None:
        with self._lock:
            self._reset()

    # --- writing (server loop) --------------------------------------------------------------

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._by_path[record.path] += 1
            self._by_fault[record.fault] += 1
            if record.model is not None:
                self._by_model[record.model] += 1
            if record.prompt is not None:
                self._prompts[record.prompt] += 1
            self._records.append(record)

    def status(self, status: int) -> None:
        with self._lock:
            self._by_status[str(status)] += 1

    def answered(self, prompt: str | None) -> None:
        with self._lock:
            self._answered += 1
            if prompt is not None:
                self._answered_prompts[prompt] += 1

    def refused(self) -> None:
        with self._lock:
            self._refused += 1

    def connection(self) -> None:
        with self._lock:
            self._connections += 1

    def handler_error(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(f"{type(error).__name__}: {error}")

    # --- reading (any thread) ---------------------------------------------------------------

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                total=self._seq,
                answered=self._answered,
                refused=self._refused,
                connections=self._connections,
                handler_errors=len(self._errors),
                by_model=dict(self._by_model),
                by_path=dict(self._by_path),
                by_fault=dict(self._by_fault),
                by_status=dict(self._by_status),
                uptime_s=time.monotonic() - self._started,
                cpu_s=time.process_time(),
            )

    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def calls(self, text: str, *, exact: bool, answered: bool) -> int:
        prompts = self._prompt_counts(answered)
        if exact:
            return prompts.get(text, 0)
        return sum(count for prompt, count in prompts.items() if text in prompt)

    def calls_by(self, pattern: str, *, answered: bool) -> dict[str, int]:
        """Counts per key, the key being the first group of ``pattern`` (or its whole match)
        searched in each prompt; prompts that do not match are left out."""
        regex = re.compile(pattern)
        result: Counter[str] = Counter()
        for prompt, count in self._prompt_counts(answered).items():
            match = regex.search(prompt)
            if match:
                result[match.group(1) if regex.groups else match.group(0)] += count
        return dict(result)

    def _prompt_counts(self, answered: bool) -> dict[str, int]:
        with self._lock:
            return dict(self._answered_prompts if answered else self._prompts)

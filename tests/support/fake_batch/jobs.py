"""The vendor-neutral life of a fake batch job (``FakeJob``) and the jobs a server holds
(``JobStore``).

A job is pending for its script's ``pending_polls`` status polls (only status reads advance it:
listing or downloading never does), then ends: ``completed``, or ``expired`` when the script
says so, ``failed`` as a whole, or ``cancelled`` after a cancel and ``cancelling_polls`` polls.
When it ends, each request gets its ``Outcome``: an answer computed exactly as the loopback
server answers a live call (``echo: <last user text>``, the same token counts), a vendor error,
``expired`` or ``cancelled``; outcomes are then put in the order the vendor returns them.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.support.fake_batch.script import JobScript
from tests.support.loopback.wire import (
    Call,
    ErrorReply,
    Route,
    Shape,
    WireError,
    answer_body,
    error_reply,
    make_answer,
    parse_call,
    status_for,
)

Phase = Literal["running", "cancelling", "completed", "failed", "expired", "cancelled"]
OutcomeKind = Literal["ok", "errored", "expired", "cancelled"]
WINDOW_S = 24 * 3600


@dataclass(frozen=True)
class Outcome:
    """One request's result once its job ended: ``answer`` (a vendor answer body) for ``ok``,
    ``error`` (a vendor error reply) for ``errored``, nothing for ``expired`` / ``cancelled``."""

    custom_id: str
    kind: OutcomeKind
    answer: dict[str, Any] | None = None
    error: ErrorReply | None = None


@dataclass(frozen=True)
class JobRecord:
    """What a test may assert about a created job."""

    vendor: Shape
    job_id: str
    model: str
    label: str | None
    custom_ids: tuple[str, ...]
    bodies: tuple[dict[str, Any], ...]


@dataclass
class FakeJob:
    vendor: Shape
    job_id: str
    model: str
    label: str | None
    items: list[tuple[str, dict[str, Any]]]
    script: JobScript
    created_at: float = field(default_factory=time.time)
    refusal: str | None = None  # why the job failed as a whole (a validation failure)
    polls: int = 0
    cancel_polls: int = 0
    cancel_asked_at: float | None = None
    phase: Phase = "running"
    ended_at: float | None = None
    outcomes: list[Outcome] | None = None
    rendered: dict[str, bytes] = field(default_factory=dict)  # vendor renderings of the results, built once
    hostile_bytes_sent: int = 0

    @property
    def ended(self) -> bool:
        return self.phase not in ("running", "cancelling")

    @property
    def expires_at(self) -> float:
        return self.created_at + WINDOW_S

    def record(self) -> JobRecord:
        return JobRecord(self.vendor, self.job_id, self.model, self.label, tuple(c for c, _ in self.items), tuple(b for _, b in self.items))

    def cancel(self) -> None:
        if not self.ended and self.cancel_asked_at is None:
            self.cancel_asked_at = time.time()
            self.phase = "cancelling"

    def poll(self) -> None:
        """One status read: the job moves on as its script says."""
        if self.ended:
            return
        if self.refusal is not None or self.script.whole_job_failure:
            self._end("failed")
        elif self.cancel_asked_at is not None:
            self.cancel_polls += 1
            if self.cancel_polls > self.script.cancelling_polls:
                self._end("cancelled")
        else:
            self.polls += 1
            if self.polls > self.script.pending_polls:
                self._end("expired" if self.script.expire_after is not None else "completed")

    def count(self, kind: OutcomeKind) -> int:
        return sum(1 for outcome in self.outcomes or () if outcome.kind == kind)

    def _end(self, phase: Phase) -> None:
        self.phase, self.ended_at = phase, time.time()
        if phase == "failed":
            self.outcomes = []
            return
        done = len(self.items)
        if phase == "cancelled":
            done = self.script.done_before_cancel
        elif phase == "expired":
            done = self.script.expire_after or 0
        outcomes = [self._outcome(i, cid, body, i < done, phase) for i, (cid, body) in enumerate(self.items)]
        if self.script.shuffle:
            random.Random(self.script.seed).shuffle(outcomes)
        self.outcomes = outcomes

    def _outcome(self, index: int, custom_id: str, body: dict[str, Any], done: bool, phase: Phase) -> Outcome:
        if not done:
            return Outcome(custom_id, "cancelled" if phase == "cancelled" else "expired")
        route = Route(self.vendor, model_in_path=self.model if self.vendor == "gemini" else None)
        try:
            call = parse_call(route, body)
        except WireError as error:
            blank = Call(self.vendor, self.model, False, False, "", 0)
            return Outcome(custom_id, "errored", error=error_reply(blank, "bad_request", 400, None, None, str(error)))
        if self.script.fails(custom_id, index):
            kind = self.script.error_kind
            return Outcome(custom_id, "errored", error=error_reply(call, kind, status_for(self.vendor, kind), None, None))
        return Outcome(custom_id, "ok", answer=answer_body(call, make_answer(call, None, 1, index)))


class JobStore:
    """The jobs of one server, and the scripts queued for the next ones. Scripts are queued from
    a test's thread and jobs read from it while the server's loop changes them: one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._jobs: dict[str, FakeJob] = {}
        self._queued: list[JobScript] = []
        self.default = JobScript()
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def queue(self, script: JobScript) -> None:
        with self.lock:
            self._queued.append(script)

    def take_script(self) -> JobScript:
        with self.lock:
            return self._queued.pop(0) if self._queued else self.default

    def add(self, job: FakeJob) -> FakeJob:
        with self.lock:
            self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> FakeJob | None:
        with self.lock:
            return self._jobs.get(job_id)

    def newest_first(self, vendor: Shape) -> list[FakeJob]:
        with self.lock:
            jobs = [job for job in self._jobs.values() if job.vendor == vendor]
        return jobs[::-1]

    def records(self) -> list[JobRecord]:
        with self.lock:
            return [job.record() for job in self._jobs.values()]

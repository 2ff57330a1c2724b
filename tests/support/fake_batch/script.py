"""What a fake batch job does (``JobScript``): how long it stays pending, which requests fail,
whether it expires, fails as a whole or is cancelled part-way, in which order its results come
back and how its results download misbehaves. A test queues one for the next job it creates
(``FakeBatchServer.script_next``) or sets the default (``set_default_script``); the default is fast
(one pending poll), clean and shuffled::

    server.script_next(JobScript(fail_ids=frozenset({"r-3"}), expire_after=8))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tests.support.loopback.wire import ErrorKind

Hostility = Literal["endless_line", "endless_lines"]


@dataclass(frozen=True)
class JobScript:
    """One job's story; see the module docstring.

    * ``pending_polls``: status polls answered with a pending state before the job ends;
    * ``fail_ids`` / ``fail_fraction``: requests answered with a vendor error of ``error_kind``
      (the fraction is spread evenly over the input order, so it is deterministic);
    * ``expire_after``: the job expires once this many requests (in input order) are done; the
      rest are ``expired``;
    * ``cancelling_polls`` / ``done_before_cancel``: after a cancel, polls spent cancelling, and how
      many requests (in input order) had finished; the rest are cancelled;
    * ``whole_job_failure``: the job is refused as a whole (OpenAI: ``failed`` at the first poll
      with ``token_limit_exceeded``; Gemini: ``FAILED`` with an error; Anthropic: the create
      answers 400);
    * ``shuffle`` / ``seed``: results in a seeded random order instead of the input's;
    * ``blank_error_file_id``: OpenAI reports ``error_file_id: ""`` for a job with no errors;
    * ``gemini_file``: Gemini returns a ``responsesFile`` instead of inline responses;
    * ``gemini_state_prefix``: ``BATCH_STATE_`` (raw REST) or ``JOB_STATE_`` (the SDKs' spelling);
    * ``hostile``: the results download sends one endless line, or endless valid lines, up to
      ``hostile_cap_bytes`` (so the fake stops by itself when a client does not).
    """

    pending_polls: int = 1
    fail_ids: frozenset[str] = frozenset()
    fail_fraction: float = 0.0
    error_kind: ErrorKind = "bad_request"
    expire_after: int | None = None
    cancelling_polls: int = 1
    done_before_cancel: int = 0
    whole_job_failure: bool = False
    shuffle: bool = True
    seed: int = 7
    blank_error_file_id: bool = False
    gemini_file: bool = False
    gemini_state_prefix: str = "BATCH_STATE_"
    hostile: Hostility | None = None
    hostile_cap_bytes: int = 256 << 20

    def fails(self, custom_id: str, index: int) -> bool:
        """Whether the request at ``index`` (input order) is answered with an error."""
        if custom_id in self.fail_ids:
            return True
        return int((index + 1) * self.fail_fraction) > int(index * self.fail_fraction)

"""Conversations: every ``mmo ask`` (and ``mmo chat`` turn) is a turn of a conversation recorded
in the run log; ``mmo ask --continue`` goes on with the newest one, ``--cid ID`` (or a unique
prefix) with any. The earlier turns are replayed as messages: the first turn's system prompt
(unless a new one is given), then each turn's user message and answer. Turns that failed are left
out (they have no answer); a turn logged with ``--no-log`` has no text to replay, so a
conversation holding one cannot be continued (the error says which turn)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmo.core.errors import ConfigError
from mmo.core.types import Message, Request

if TYPE_CHECKING:
    from mmo.runtime.runlog import RunLog, RunRecord


@dataclass(frozen=True, slots=True)
class ContinueFrom:
    """``--continue`` (``latest``) or ``--cid ID``."""

    latest: bool = False
    cid: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    system: str | None = None
    history: tuple[Message, ...] = ()  # earlier turns: user, assistant, user, assistant...

    @property
    def turns(self) -> int:
        return len(self.history) // 2

    def request_for(self, request: Request) -> Request:
        """``request`` (one new turn) after this conversation's earlier turns."""
        own = tuple(m for m in request.messages if m.role != "system")
        system = request.system or self.system
        messages = ((Message("system", system),) if system else ()) + self.history + own
        return Request(messages, request.params, request.metadata, request.tags)


def new_conversation() -> Conversation:
    return Conversation(uuid.uuid4().hex)


def load_conversation(runlog: RunLog | None, choice: ContinueFrom) -> Conversation:
    """The conversation ``choice`` names, with its earlier turns; a ``ConfigError`` saying why not."""
    if runlog is None:
        raise ConfigError("no run log to continue a conversation from (it could not be opened): see `mmo paths`")
    wanted = runlog.latest_conversation() if choice.latest else choice.cid
    if wanted is None:
        raise ConfigError("no conversation to continue yet: ask something first (`mmo ask \"...\"`)")
    try:
        found, runs = runlog.conversation(wanted)
    except KeyError as error:
        raise ConfigError(f"--cid {wanted}: {error.args[0]}; `mmo logs` lists recent runs") from None
    return _replayed(found, runs)


def _replayed(conversation_id: str, runs: list[RunRecord]) -> Conversation:
    system: str | None = None
    history: list[Message] = []
    for number, run in enumerate(runs, 1):
        if run.turn_json is None:
            raise ConfigError(f"conversation {conversation_id[:8]}: turn {number} (run {run.run_id[:8]}) was logged without its text (--no-log), "
                              "so it cannot be replayed: start a new conversation")
        turn = json.loads(run.turn_json)
        if system is None and turn.get("system"):
            system = turn["system"]
        if turn.get("answer") is None:
            continue  # a failed turn: nothing was answered
        history += [Message("user", turn["user"]), Message("assistant", turn["answer"])]
    return Conversation(conversation_id, system, tuple(history))

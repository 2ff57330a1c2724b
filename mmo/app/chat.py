"""``mmo chat``: a conversation, one turn at a time, through one open engine (the profile, the
providers' connections and the run log stay open between turns). Each turn is routed through the
profile with every earlier answered turn before it (``mmo.app.conversation``) and logged as a turn
of the conversation (``command = chat``), so ``mmo ask --cid`` can go on with it later. A turn
that is cancelled (Ctrl-C) is logged as interrupted with what it spent, and the conversation goes
on without it. No typer, no terminal here: ``mmo.cli.chat_cmd`` reads the lines."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from mmo.app.conversation import ContinueFrom, Conversation, load_conversation, new_conversation
from mmo.app.engine import Engine
from mmo.app.outcome import RunOutcome
from mmo.app.settings import RunSettings
from mmo.core.protocols import StreamSink
from mmo.core.types import Message, Params, Request
from mmo.spec.params import params_from_mapping


class ChatSession:
    def __init__(self, engine: Engine, conversation: Conversation, *, system: str | None, params: Params, log_text: bool = True) -> None:
        self.engine = engine
        self.conversation = conversation
        self.system = system
        self.params = params
        self.log_text = log_text

    async def turn(self, text: str, sink: StreamSink | None = None, on_step: Callable[[str], None] | None = None) -> RunOutcome:
        """Ask ``text`` after the conversation so far; an answered turn joins the conversation.
        ``on_step`` hears each of this turn's model calls as it starts (the chat's spinner)."""
        self.engine.services.on_step = on_step
        request = self.conversation.request_for(Request.from_prompt(text, system=self.system, params=self.params))
        cid = self.conversation.id

        def interrupted(outcome: RunOutcome) -> None:
            self.engine.log(outcome, request, command="chat", log_text=self.log_text, conversation_id=cid)

        outcome = await self.engine.run(request, sink=sink, on_interrupt=interrupted)
        self.engine.log(outcome, request, command="chat", log_text=self.log_text, conversation_id=cid)
        if outcome.completion is not None:
            answered = (Message("user", text), Message("assistant", outcome.completion.text))
            self.conversation = replace(self.conversation, history=(*self.conversation.history, *answered))
        return replace(outcome, conversation_id=cid)


def open_chat(engine: Engine, settings: RunSettings, *, system: str | None, continue_from: ContinueFrom | None, log_text: bool) -> ChatSession:
    """A session on ``engine``: a new conversation, or the one ``continue_from`` names."""
    conversation = new_conversation() if continue_from is None else load_conversation(engine.runlog, continue_from)
    return ChatSession(engine, conversation, system=system, params=params_from_mapping(settings.params), log_text=log_text)

"""The ``ask`` use case: one prompt through a profile, logged (interrupted runs too), with its
trace. No typer, no rich."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mmo.app.conversation import ContinueFrom, load_conversation, new_conversation
from mmo.app.engine import open_engine
from mmo.app.outcome import RunOutcome
from mmo.app.settings import AppEnv, RunSettings
from mmo.app.tools import with_tools
from mmo.core.protocols import Provider, StreamSink
from mmo.core.types import ImagePart, Request, ToolSpec, frozen_mapping
from mmo.spec.params import params_from_mapping

if TYPE_CHECKING:
    from mmo.runtime.runlog import RunLog


@dataclass(frozen=True, slots=True)
class AskInput:
    prompt: str
    settings: RunSettings = field(default_factory=RunSettings)
    system: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    log_text: bool = True  # False (--no-log): the run log keeps no prompt or answer text
    tools: tuple[ToolSpec, ...] = ()  # --tools (mmo.app.tools.request_tools), with --tool-choice
    tool_choice: str | None = None
    schema: Mapping[str, Any] | None = None  # --schema (mmo.app.schema_file.read_schema_file)
    images: tuple[ImagePart, ...] = ()  # --attach (mmo.app.attachments.read_attachment)
    continue_from: ContinueFrom | None = None  # --continue / --cid (mmo.app.conversation)

    def request(self) -> Request:
        params = with_tools(params_from_mapping(self.settings.params), self.tools, self.tool_choice)
        request = Request.from_prompt(
            self.prompt,
            system=self.system,
            params=params if self.schema is None else params.merged(output_schema=self.schema),
            metadata=frozen_mapping(self.metadata),
            tags=self.tags,
        )
        if not self.images:
            return request
        *earlier, last = request.messages
        return replace(request, messages=(*earlier, replace(last, images=self.images)))


async def ask(
    item: AskInput,
    env: AppEnv,
    *,
    sink: StreamSink | None = None,
    providers: Mapping[str, Provider] | None = None,
    on_interrupt: Callable[[RunOutcome], None] | None = None,
    open_runlog: Callable[[Path], RunLog] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run one prompt. Configuration errors raise before anything is spent; the run's own errors
    are returned in the outcome (with the trace) after the run is logged. A run cancelled in
    flight (Ctrl-C) is logged too, as interrupted, with what it spent (calls in flight at their
    cancel-cost estimate), then handed to ``on_interrupt``, and the cancellation goes on. With
    ``--no-log`` (``log_text=False``) a run log that cannot be used is skipped, with a warning.
    The outcome's warnings include any from logging and closing (an answer that could not be
    recorded or cached is still returned). ``on_step`` hears each model call as it starts."""
    request = item.request()
    async with open_engine(item.settings, env, providers=providers, log_optional=not item.log_text, open_runlog=open_runlog) as engine:
        engine.services.on_step = on_step  # each model call as it starts (``mmo ask``'s spinner)
        conversation = new_conversation() if item.continue_from is None else load_conversation(engine.runlog, item.continue_from)
        request = conversation.request_for(request)

        def interrupted(outcome: RunOutcome) -> None:
            try:
                engine.log(outcome, request, command="ask", log_text=item.log_text, conversation_id=conversation.id)
            finally:
                if on_interrupt is not None:
                    on_interrupt(outcome)

        outcome = await engine.run(request, sink=sink, on_interrupt=interrupted)
        engine.log(outcome, request, command="ask", log_text=item.log_text, conversation_id=conversation.id)
    return replace(outcome, warnings=engine.warnings, conversation_id=conversation.id)

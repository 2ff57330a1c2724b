"""A spinner naming the current step (``asking flash``, ``asking judge``) while nothing is shown
yet: a strategy that judges before it shows (a cascade, an ensemble) would otherwise leave the
terminal blank for seconds. Only when standard error is a terminal, never in pipes or logs; it
stops at the first text of the answer, before anything else is written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from mmo.core.protocols import StreamEvent, StreamSink


class StepSpinner:
    def __init__(self, console: Console) -> None:
        self._status: Any = console.status("starting", spinner="dots") if console.is_terminal else None
        self._running = False

    def __enter__(self) -> StepSpinner:
        if self._status is not None:
            self._status.start()
            self._running = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def step(self, message: str) -> None:
        if self._running:
            self._status.update(message)

    def stop(self) -> None:
        if self._running:
            self._status.stop()
            self._running = False

    def until_shown(self, sink: StreamSink | None) -> StreamSink | None:
        """``sink``, stopping the spinner at the first thing it shows."""
        if sink is None or self._status is None:
            return sink

        def shown(event: StreamEvent) -> None:
            self.stop()
            sink(event)

        return shown

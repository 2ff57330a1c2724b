"""How a caller reaches a running batch (``BatchControl``: Ctrl-C) and hears from it
(``BatchObserver``: notices and progress)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmo.app.batch.progress import BatchProgress
    from mmo.app.batch.runner import RowRunner


class BatchControl:
    """Ctrl-C for a running batch, whether it arrives before the rows started or after."""

    def __init__(self) -> None:
        self._runner: RowRunner | None = None
        self._early = 0
        self.presses = 0  # every interrupt so far: a caller running several batches stops after this one

    def interrupt(self) -> None:
        self.presses += 1
        if self._runner is not None:
            self._runner.interrupt()
        else:
            self._early += 1

    @property
    def attached(self) -> bool:
        """Whether rows are about to run (or running): before, there is nothing to stop cleanly."""
        return self._runner is not None

    def attach(self, runner: RowRunner) -> None:
        self._runner = runner
        for _ in range(self._early):
            runner.interrupt()


class BatchObserver:
    """What a batch tells its caller as it runs; the defaults ignore everything."""

    progress_interval_s: float = 0.5

    def notice(self, message: str) -> None:
        return None

    def progress(self, snapshot: BatchProgress) -> None:
        return None

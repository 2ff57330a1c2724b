"""Shared-state writes started from synchronous code (a guard's ``release``): each runs as a task
of the running loop, kept referenced until it ends (asyncio holds only weak references to tasks).
A write that fails is dropped: the next check reads the server afresh, and a lost correction of a
reservation over-counts, which is the safe side."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable


class BackgroundWrites:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            with contextlib.suppress(Exception):
                await work

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float = 2.0) -> None:
        """Let the writes still running end (a session closing), for at most ``timeout_s``."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

"""Running a command's coroutine so that SIGTERM (``kill``, a service manager, a container
stopping) and SIGHUP (the terminal closed) stop it the way Ctrl-C does: ``asyncio.run`` cancels
its main task on SIGINT and then raises ``KeyboardInterrupt``; here the other two cancel it too
(so a run in flight is logged as interrupted with its spend), then ``Terminated`` (a
``KeyboardInterrupt``, exiting 128 + the signal's number) is raised. A second one of them ends
the process as the signal would. ``mmo batch`` has its own, gentler handling
(``mmo.cli.batch_run``): rows in flight may finish.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")

_SIGNALS = ("SIGTERM", "SIGHUP")  # those present on this platform are handled


def run_interruptible(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` with SIGTERM and SIGHUP cancelling it like Ctrl-C."""
    from mmo.cli.errors import Terminated

    received: list[int] = []
    try:
        return asyncio.run(_cancelled_by_signals(main, received))
    except asyncio.CancelledError:
        if not received:
            raise
        raise Terminated(received[0]) from None


async def _cancelled_by_signals(main: Coroutine[Any, Any, T], received: list[int]) -> T:
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    handled = [getattr(signal, name) for name in _SIGNALS if hasattr(signal, name)]

    def on_signal(signum: int) -> None:
        received.append(signum)
        for each in handled:  # the next one is the signal's own
            loop.remove_signal_handler(each)
        task.cancel()

    installed = []
    for each in handled:
        try:
            loop.add_signal_handler(each, on_signal, each)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no Unix signals
            continue
        installed.append(each)
    try:
        return await main
    finally:
        for each in installed:
            loop.remove_signal_handler(each)

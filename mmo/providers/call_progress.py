"""What one call has delivered so far: its timing (``Stopwatch``: latency and time to first
token) and, for a stream, the text shown (``StreamProgress``), which decides whether a failure is
a cut stream carrying that text or a plain error."""

from __future__ import annotations

from time import perf_counter
from typing import Mapping

from mmo.core.errors import ProviderError, StreamCut, TransientError
from mmo.providers.http_errors import CallTarget


class Stopwatch:
    """Latency and time to first token of one call, on ``time.perf_counter``."""

    __slots__ = ("_start", "_first")

    def __init__(self) -> None:
        self._start = perf_counter()
        self._first: float | None = None

    def first_token(self) -> None:
        if self._first is None:
            self._first = perf_counter()

    @property
    def ttft_ms(self) -> float | None:
        return None if self._first is None else (self._first - self._start) * 1000.0

    def elapsed_ms(self) -> float:
        return (perf_counter() - self._start) * 1000.0


class StreamProgress:
    """What a stream has delivered so far. Decides whether a failure is a cut stream (after the
    first event) or a plain connection error, and keeps the partial text for ``StreamCut``."""

    __slots__ = ("started", "_parts", "clock", "headers")

    def __init__(self) -> None:
        self.started = False
        self._parts: list[str] = []
        self.clock = Stopwatch()
        self.headers: Mapping[str, str] = {}

    def add_text(self, text: str) -> None:
        if text:
            self.clock.first_token()
            self._parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def failed(self, error: ProviderError, target: CallTarget) -> ProviderError:
        """An error event inside the stream. Once text has been shown, a transient error becomes a
        ``StreamCut`` carrying that text (the cause stays chained); a permanent one is raised as
        is, since retrying the same call would fail again."""
        if not self._parts or not isinstance(error, TransientError):
            return error
        cut = target.error(
            StreamCut,
            f"stream cut after {len(self.text)} characters: {error.provider_message}",
            code=error.code,
            retry_after=error.retry_after,
            partial_text=self.text,
        )
        cut.__cause__ = error
        return cut

    def ended_early(self, target: CallTarget, what: str) -> ProviderError:
        return target.error(StreamCut, f"stream ended before {what}", partial_text=self.text)

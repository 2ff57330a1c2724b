"""The HTTP side of a provider's batch API (``BatchWire``): JSON calls, a file upload and a
results download as lines, all over the provider's own client, base URL, headers, key and
transport limits, failures in the same error tree as live calls.

* Each JSON call (create, status, list, cancel) is one attempt held to the provider's
  ``TransportLimits`` like a live answer (``mmo.providers.http``); an error status is classified
  by the provider's own classifier, so a refused key is ``AuthFailed`` as on a live call.
* A results download is never read whole (``lines``): it is inflated and cut into lines a step at
  a time (``mmo.providers.jsonl_lines``), each line held to ``max_response_bytes`` (one answer's
  bound) and the number of lines to what the job holds. Silence is bounded by
  ``read_idle_timeout_s``; the download as a whole is not held to ``attempt_deadline_s``, since a
  large file may take longer than one answer, but its size is bounded by the line bounds.

The key lives in ``BatchWire`` only (``repr=False``), as it does in a provider, and is scrubbed
out of anything a server echoes (``CallTarget``).
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, Mapping

from mmo.core.errors import AnswerOverLimit, MalformedResponse, ProviderError
from mmo.core.transport_limits import TransportLimits
from mmo.core.types import Request
from mmo.providers.bounded_body import LimitExceeded, check_declared_length, content_encoding, read_bounded
from mmo.providers.http import body_text, call_timeout, classified, failures_as_errors, post_json
from mmo.providers.http_errors import CallTarget, snippet
from mmo.providers.jsonl_lines import LineSplitter, StreamInflater
from mmo.providers.wire_json import parse_json

if TYPE_CHECKING:
    import httpx

Classifier = Callable[[CallTarget, int | None, Mapping[str, str], str], ProviderError]


@dataclass(frozen=True, slots=True)
class BatchWire:
    """What a batch endpoint needs of its provider: built by ``WireProvider.batch_wire``.
    ``prepare`` is the live call's parameter rules (warnings reported as live calls report them),
    ``warn`` the provider's warning sink."""

    provider: str
    base_url: str
    client: httpx.AsyncClient
    headers: Mapping[str, str]
    limits: TransportLimits
    classify: Classifier
    prepare: Callable[[Request, str], Request]
    warn: Callable[[str], None]
    secret: str | None = field(default=None, repr=False, compare=False)

    def target(self, model: str = "") -> CallTarget:
        return CallTarget(self.provider, model, self.secret)

    def model_id(self, model: str) -> str:
        return f"{self.provider}:{model}"

    async def post_json(self, url: str, body: Mapping[str, Any], *, model: str = "") -> Any:
        target = self.target(model)
        data, _ = await post_json(
            self.client, url, headers=self.headers, body=body, limits=self.limits, target=target, classify=partial(self.classify, target)
        )
        return data

    async def get_json(self, url: str, *, model: str = "", max_bytes: int | None = None) -> Any:
        """One GET answered with JSON; ``max_bytes`` raises the size bound for an answer known to
        be large (Gemini's inline results)."""
        request = self.client.build_request("GET", url, headers=self._plain_headers(), timeout=call_timeout(self.limits))
        return await self._send_for_json(request, self.target(model), max_bytes or self.limits.max_response_bytes)

    async def post_file(self, url: str, *, fields: Mapping[str, str], file_name: str, content: bytes) -> Any:
        """A multipart upload of one file (OpenAI's ``/files``), answered with JSON."""
        files = {"file": (file_name, content, "application/jsonl")}
        request = self.client.build_request(
            "POST", url, headers=self._plain_headers(), data=dict(fields), files=files, timeout=call_timeout(self.limits)
        )
        return await self._send_for_json(request, self.target(), self.limits.max_response_bytes)

    async def lines(self, url: str, *, max_lines: int, model: str = "") -> AsyncGenerator[bytes, None]:
        """The non-blank lines of a results file, each at most ``max_response_bytes``, at most
        ``max_lines`` of them; read as they arrive (see the module docstring)."""
        target = self.target(model)
        request = self.client.build_request("GET", url, headers=self._plain_headers(), timeout=call_timeout(self.limits))
        with failures_as_errors(target, self.limits):
            response = await self.client.send(request, stream=True)
        try:
            if not 200 <= response.status_code < 300:
                with failures_as_errors(target, self.limits):
                    await self._raise_status(response, target)
            splitter = LineSplitter(self.limits.max_response_bytes, max_lines)
            inflater = StreamInflater(content_encoding(response.headers))
            async with aclosing(self._chunks(response, target)) as chunks:
                async for chunk in chunks:
                    with failures_as_errors(target, self.limits):
                        lines = [line for piece in inflater.feed(chunk) for line in splitter.feed(piece)]
                    for line in lines:
                        yield line
            with failures_as_errors(target, self.limits):
                lines = [*splitter.feed(inflater.finish()), *splitter.finish()]
            for line in lines:
                yield line
        finally:
            await response.aclose()

    async def _chunks(self, response: httpx.Response, target: CallTarget) -> AsyncGenerator[bytes, None]:
        """The raw chunks of a body, each wait for one inside the error tree (never the consumer's
        own work between chunks)."""
        iterator = response.aiter_raw().__aiter__()
        while True:
            with failures_as_errors(target, self.limits):
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    return
            yield chunk

    async def _send_for_json(self, request: httpx.Request, target: CallTarget, max_bytes: int) -> Any:
        with failures_as_errors(target, self.limits):
            async with asyncio.timeout(self.limits.attempt_deadline_s):
                response = await self.client.send(request, stream=True)
                try:
                    if not 200 <= response.status_code < 300:
                        await self._raise_status(response, target)
                    check_declared_length(response.headers, max_bytes)
                    content = await read_bounded(response.aiter_raw(), response.headers, max_bytes)
                finally:
                    await response.aclose()
        try:
            return parse_json(content, self.limits.max_json_depth)
        except LimitExceeded as exc:
            raise target.error(AnswerOverLimit, str(exc), status=response.status_code) from None
        except ValueError:
            text = snippet(body_text(response.headers, content))
            raise target.error(MalformedResponse, f"answer is not JSON: {text}", status=response.status_code) from None

    async def _raise_status(self, response: httpx.Response, target: CallTarget) -> None:
        """The classified error of an error answer (its body read within the answer bound)."""
        check_declared_length(response.headers, self.limits.max_response_bytes)
        content = await read_bounded(response.aiter_raw(), response.headers, self.limits.max_response_bytes)
        text = body_text(response.headers, content)
        raise classified(partial(self.classify, target), target, response.status_code, response.headers, text)

    def _plain_headers(self) -> dict[str, str]:
        """The provider's headers without the JSON content type (a GET has no body; a multipart
        upload sets its own, with the boundary)."""
        return {name: value for name, value in self.headers.items() if name.lower() != "content-type"}

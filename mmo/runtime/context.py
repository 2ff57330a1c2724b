"""The run context: the cross-cutting work every call needs, written once.

Strategies never call a child's ``run`` or a provider directly. They call ``ctx.call(child,
request)`` (which gives the child its own span in the trace and decides whether it may stream)
and leaf nodes call ``ctx.complete(target, request)``, which does, in order: parameter merging,
the cache, the provider call (streaming to the user when allowed), pricing, and the attempt's
record in the trace. Later issues add limits, budgets and outage drills here, in one place.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, Callable, Mapping

from mmo.catalog.catalog import Catalog
from mmo.core.errors import EmptyAnswer, SchemaMismatch, StreamCut, one_line
from mmo.core.protocols import Node, Provider, RecordedAnswers, StreamSink
from mmo.core.shown import shown_line
from mmo.core.target import ModelTarget, RunOptions
from mmo.core.trace import Span, SpanBuilder
from mmo.core.types import Completion, Cost, Delta, Request, StreamRestart, Usage, evolve
from mmo.core.usage import MAX_PLAUSIBLE_TOKENS
from mmo.runtime import structured
from mmo.runtime.guard import Guard
from mmo.runtime.servable import check_servable
from mmo.runtime.services import Services
from mmo.runtime.tokens import TokenEstimator


class SpanContext:
    """One node's view of a run (the ``RunContext`` protocol): its span, the shared services,
    and the stream sink (``None`` when this node must not show partial output, e.g. below a
    judge or a vote)."""

    __slots__ = ("services", "options", "span", "sink", "may_move_on")

    def __init__(
        self, services: Services, options: RunOptions, span: SpanBuilder, sink: StreamSink | None, may_move_on: bool = False
    ) -> None:
        self.services, self.options, self.span, self.sink = services, options, span, sink
        self.may_move_on = may_move_on  # a strategy above has another target if this one cannot be served now

    @property
    def path(self) -> str:
        return self.span.path

    @property
    def tokens(self) -> TokenEstimator:
        return self.services.tokens

    @property
    def catalog(self) -> Catalog:
        return self.services.catalog

    @property
    def run_origin(self) -> float:
        return self.span.origin

    def note(self, message: str, **attrs: Any) -> None:
        """Record a decision and its reason in this node's span."""
        self.span.event(message, **attrs)

    def warn(self, message: str) -> None:
        self.services.warn(message)

    def context_window(self, target: ModelTarget) -> int | None:
        return self.services.catalog.context_window(target.ref).value

    async def call(self, child: Node, request: Request, *, stream: bool = True, alternative: bool = False) -> Completion:
        """Run ``child`` under its own span. ``stream=False`` keeps its output off the screen
        (strategies that judge an answer before accepting it); ``alternative``: the caller has
        another target to move on to (a fallback's later entries), which holds for everything
        below ``child`` too."""
        builder = SpanBuilder(child.kind, child.label, f"{self.path}/{child.label}", self.span.origin)
        sink = self.sink if stream else None
        child_ctx = SpanContext(self.services, self.options, builder, sink, alternative or self.may_move_on)
        try:
            result = await child.run(request, child_ctx)
        except asyncio.CancelledError:
            self.span.children.append(builder.finish("cancelled"))
            raise
        except BaseException as error:
            self.span.children.append(builder.finish("error", error))
            raise
        self.span.children.append(builder.finish("ok"))
        return result

    async def complete(self, target: ModelTarget, request: Request) -> Completion:
        """Call one model: cache, provider, pricing, and the attempt's record in this span."""
        request = request.with_params(target.params.overlaid_by(request.params))
        self.span.attempt.update(model_id=target.id)
        self.services.step(f"asking {target.label}")
        for guard in self.services.guards:
            guard.check(target, request, self)
        schema = request.params.output_schema
        if schema is not None:
            request, how = structured.prepare(request, self.services.catalog.capabilities(target.ref), target.label)
            self.note(how)
        provider = self.services.providers.get(target.ref.provider)
        identity = provider.identity()
        key = self._cache_key(identity, target, request)
        cached = self._cache_get(key)
        if cached is not None and schema is not None and structured.answer_problems(schema, cached):
            cached = None  # stored before it had to match (or by an older mmo): asked again
        if cached is not None:
            self.note("cache hit")
            self._note_tool_calls(cached)
            self._record(cached, Cost(0.0, "cache hit"), cached=True)
            if self.sink is not None:
                self.sink(Delta(text=cached.text, model_id=cached.model_id))
            return cached
        completion = await self._guarded_call(provider, target, request)
        cost = completion.cost if completion.cost.known else self.services.catalog.cost(target.ref, completion.usage)
        if completion.usage.suspect is not None:
            self.note(f"suspect usage from {target.id}: {completion.usage.suspect}")
            # Said once per model (the details, which vary by call, are in the trace).
            self.services.warn(f"{target.id} reported token counts that cannot be right (negative, not a whole number, or over "
                               f"{MAX_PLAUSIBLE_TOKENS:,}; --explain shows them): they count as 0 and such a call's cost is unknown")
        elif not cost.known:
            self.services.warn(f"no price known for {target.id}: its cost is shown as unknown")
        completion = evolve(completion, cost=cost)
        self._record(completion, cost, cached=False)
        if _is_empty(completion):
            raise _empty_answer(target, completion)  # after the record: its cost counts
        if schema is not None:
            self._check_schema(target, schema, completion)  # after the record: its cost counts
        self._note_tool_calls(completion)
        if key is not None and self.options.write_cache:
            self.services.cache.set(key, completion)  # type: ignore[union-attr]
        return completion

    def _check_schema(self, target: ModelTarget, schema: Mapping[str, Any], completion: Completion) -> None:
        """Raise ``SchemaMismatch`` when the answer does not match; else show it (it was not
        streamed: only an answer that matches may reach the screen)."""
        problems = structured.answer_problems(schema, completion)
        if problems:
            self.note(f"the answer of {target.label} does not match the schema: {'; '.join(problems)}", problems=list(problems))
            raise SchemaMismatch(problems, completion.text, provider=target.ref.provider, model=target.ref.name)
        self.note("the answer matches the schema")
        if self.sink is not None:
            self.sink(Delta(text=completion.text, model_id=target.id))

    async def _guarded_call(self, provider: Provider, target: ModelTarget, request: Request) -> Completion:
        tokens: list[tuple[Guard, Any]] = []
        completion: Completion | None = None
        error: BaseException | None = None
        sent = False
        try:
            for guard in self.services.guards:
                tokens.append((guard, await guard.acquire(target, request, self)))
            streams = self._streams(target, request)
            call = self._stream(provider, target, request) if streams else provider.complete(request, target.ref.name)
            sent = True
            completion = await call
            if self.sink is not None and not streams and request.params.output_schema is None:
                self.sink(Delta(text=completion.text, model_id=target.id))  # a model that cannot stream shows its answer whole
            return completion
        except StreamCut as cut:
            error = cut
            self._record_cut_cost(target, request, cut)
            raise
        except asyncio.CancelledError as cancelled:
            error = cancelled
            if sent:
                self._record_cancel_cost(provider, target, request)
            raise
        except BaseException as failure:
            error = failure
            raise
        finally:
            for guard, token in reversed(tokens):
                guard.release(token, target, completion, error)

    def _streams(self, target: ModelTarget, request: Request) -> bool:
        """Stream to the screen unless nobody watches, the model cannot, or the answer must be
        validated before anyone sees it (a schema)."""
        if self.sink is None or request.params.output_schema is not None:
            return False
        return not self.services.catalog.capabilities(target.ref).streaming.known_false

    async def _stream(self, provider: Provider, target: ModelTarget, request: Request) -> Completion:
        shown = False
        try:
            async for delta in provider.stream(request, target.ref.name):
                if delta.final is not None:
                    return delta.final
                if delta.text:
                    shown = True
                    self.sink(replace(delta, model_id=target.id))  # type: ignore[misc]
        except BaseException as error:
            if shown and not isinstance(error, asyncio.CancelledError):
                self.sink(StreamRestart(target.id, one_line(error)))  # type: ignore[misc]
            raise
        raise StreamCut("stream ended without a final message", provider=target.ref.provider, model=target.ref.name)

    def _cache_key(self, identity: Any, target: ModelTarget, request: Request) -> str | None:
        cache = self.services.cache
        if cache is None or not identity.get("cacheable", True):
            return None
        if not (self.options.read_cache or self.options.write_cache):
            return None
        return cache.key(identity, target.ref.name, request)

    def _cache_get(self, key: str | None) -> Completion | None:
        if key is None or not self.options.read_cache:
            return None
        cached = self.services.cache.get(key)  # type: ignore[union-attr]
        return None if cached is None or _is_empty(cached) else cached  # an empty answer stored before is not one

    def _note_tool_calls(self, completion: Completion) -> None:
        """An answer that calls tools says so in the trace (``--explain``, the run log): names
        only, since the trace is kept even with ``--no-log``."""
        if completion.tool_calls:
            names = ", ".join(shown_line(call.name[:64]) for call in completion.tool_calls)
            self.note(f"answered with {len(completion.tool_calls)} tool call(s): {names}")

    def _record(self, completion: Completion, cost: Cost, *, cached: bool) -> None:
        self.span.attempt.update(usage=completion.usage, cost=cost, cached=cached, ttft_ms=completion.ttft_ms)

    def _record_cut_cost(self, target: ModelTarget, request: Request, cut: StreamCut) -> None:
        """A stream cut after output was billed for what arrived: estimate it, and say so."""
        if not cut.partial_text:
            return
        estimate = self.services.tokens.estimate
        usage = Usage(estimate(request.prompt_text(), target.id), estimate(cut.partial_text, target.id))
        cost = self.services.catalog.cost(target.ref, usage)
        self._record_usage_estimate(usage, Cost(cost.usd, f"{cost.source}, estimated from partial output"))

    def _record_cancel_cost(self, provider: Provider, target: ModelTarget, request: Request) -> None:
        """A call cancelled in flight (a losing hedge, a missed deadline, Ctrl-C) may still be
        billed for the prompt the vendor had read: count the estimated input, and say so. A model
        with no list price is counted from its provider's recording when there is one (replay:
        the whole recorded answer, since a vendor that finishes a request nobody reads bills it
        all), else its cost is unknown, which makes the run's total unknown: never a silent $0."""
        usage = Usage(self.services.tokens.estimate(request.prompt_text(), target.id), 0)
        cost = self.services.catalog.cost(target.ref, usage)
        if cost.known:
            self._record_usage_estimate(usage, Cost(cost.usd, f"{cost.source}, estimated input only (cancelled)"))
            return
        recorded = provider.recorded_usage(request, target.ref.name) if isinstance(provider, RecordedAnswers) else None
        if recorded is not None and recorded[1] is not None:
            self._record_usage_estimate(recorded[0], Cost(recorded[1], "recorded, whole answer (cancelled in flight)"))
            return
        self.note("cancelled in flight; its price is unknown, so the run's cost is unknown")
        self._record_usage_estimate(usage, Cost(None, "unknown (cancelled in flight)"))

    def _record_usage_estimate(self, usage: Usage, cost: Cost) -> None:
        self.span.attempt.update(usage=usage, cost=cost, cached=False)


def _is_empty(completion: Completion) -> bool:
    return not completion.tool_calls and not completion.text.strip()


def _empty_answer(target: ModelTarget, completion: Completion) -> EmptyAnswer:
    why = "no text and no tool call"
    if completion.finish_reason == "length":
        spent = completion.usage.output_tokens
        why += f"; the output limit was reached{f' after {spent} tokens' if spent else ''} before any text: raise -p max_tokens"
    return EmptyAnswer(f"empty answer ({why})", provider=target.ref.provider, model=target.ref.name)


async def execute(
    root: Node,
    request: Request,
    services: Services,
    options: RunOptions,
    sink: StreamSink | None = None,
    on_span: Callable[[Span], None] | None = None,
) -> Completion:
    """Run a strategy tree. The returned completion's ``trace`` is the root span; when the run
    fails, the error propagates and ``on_span`` (if given) still receives the trace, so a failed
    run can be explained and logged."""
    origin = time.perf_counter()
    builder = SpanBuilder("run", "run", "", origin)
    ctx = SpanContext(services, options, builder, sink)
    try:
        images = request.images()
        if images:
            ctx.note(f"attached: {'; '.join(image.describe() for image in images)}")
        check_servable(root, request, services.guards, ctx)
        completion = await ctx.call(root, request)
    except BaseException as error:
        span = builder.finish("cancelled" if isinstance(error, asyncio.CancelledError) else "error", error)
        if on_span is not None:
            on_span(span)
        raise
    span = builder.finish("ok")
    if on_span is not None:
        on_span(span)
    return evolve(completion, trace=span)

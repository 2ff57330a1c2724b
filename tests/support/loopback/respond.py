"""Carrying out a plan on a connection: answer, fail with a vendor error, drop, hang, cut a
stream short, or send an error event inside a 200 stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.support.loopback.connection import HttpConnection, chunk, response_head
from tests.support.loopback.script import Fault, Plan
from tests.support.loopback.tally import Tally
from tests.support.loopback.wire import (
    Call,
    StreamBytes,
    answer_body,
    answer_stream,
    encode_json,
    error_event,
    error_reply,
    json_stream_body,
    make_answer,
)

JSON = ("content-type", "application/json")
SSE = {"openai": "text/event-stream; charset=utf-8", "anthropic": "text/event-stream; charset=utf-8",
       "gemini": "text/event-stream"}
_END = b"0\r\n\r\n"
_FOREVER_S = 365 * 24 * 3600.0  # a hang ends when the client or the server goes, not by itself


async def perform(connection: HttpConnection, call: Call, plan: Plan, seq: int, tally: Tally,
                  answered: Callable[[], None]) -> None:
    """Answer one call as planned, calling ``answered`` just before a complete success is sent."""
    fault = plan.fault
    if fault.action == "hang":
        await asyncio.sleep(fault.hang_s if fault.hang_s is not None else _FOREVER_S)
        connection.close()
        return
    if plan.latency_s > 0:
        await asyncio.sleep(plan.latency_s)
    if fault.action == "drop":
        connection.reset() if fault.reset else connection.close()
        return
    if fault.action == "error":
        assert fault.error is not None
        status = fault.resolved_status(call.shape)
        reply = error_reply(call, fault.error, status, fault.retry_after_s, fault.retry_after_ms, fault.message)
        given = {name.lower() for name, _ in fault.headers}  # headers the script names win
        hints = [(name, value) for name, value in reply.headers if name not in given]
        tally.status(status)
        connection.send(status, [JSON, *hints, *fault.headers], encode_json(reply.body))
        return
    tally.status(200)
    answer = make_answer(call, plan.text, plan.chunks, seq)
    if not call.stream:
        _answer_whole(connection, call, plan, encode_json(answer_body(call, answer)), answered)
    elif plan.fault.action == "json_stream":
        error = plan.fault.error
        inside = error_reply(call, error, plan.fault.resolved_status(call.shape), None, None).body if error is not None else None
        answered()
        connection.send(200, [JSON], encode_json(json_stream_body(call, answer, inside)))
    else:
        await _answer_stream(connection, call, plan, answer_stream(call, answer), answered)


def _answer_whole(connection: HttpConnection, call: Call, plan: Plan, body: bytes,
                  answered: Callable[[], None]) -> None:
    fault = plan.fault
    if fault.action == "stream_error":  # an error object inside a 200, as some proxies send
        assert fault.error is not None
        status = fault.resolved_status(call.shape)
        error = error_reply(call, fault.error, status, None, None).body
        connection.send(200, [JSON, *fault.headers], encode_json(error))
        return
    if fault.action == "cut":
        head = response_head(200, [JSON, ("content-length", str(len(body)))], keep_alive=True)
        connection.write(head + body[: len(body) // 2])
        connection.close()
        return
    answered()
    connection.send(200, [JSON, *fault.headers], body)


async def _answer_stream(connection: HttpConnection, call: Call, plan: Plan, stream: StreamBytes,
                         answered: Callable[[], None]) -> None:
    fault = plan.fault
    head = response_head(200, [("content-type", SSE[call.shape]), ("cache-control", "no-cache"),
                               ("transfer-encoding", "chunked"), *fault.headers], connection.keep_alive)
    deltas, ending, closing = _stream_parts(call, fault, stream)
    if plan.chunk_delay_s > 0:
        connection.write(head + _framed(stream.head))
        for delta in deltas:
            await asyncio.sleep(plan.chunk_delay_s)
            connection.write(_framed([delta]))
            await connection.drain()
        head, deltas, opening = b"", (), ()
    else:
        opening = stream.head
    if fault.action == "answer" and not connection.is_closing:
        answered()  # counted before the last write, so a client that has the answer sees the count
    connection.write(head + _framed([*opening, *deltas, *ending]) + closing)
    if fault.action == "cut":
        connection.close()


def _stream_parts(call: Call, fault: Fault, stream: StreamBytes) -> tuple[tuple[bytes, ...], list[bytes], bytes]:
    """The text events, the events after them and the body's end, as the fault shapes them."""
    if fault.action == "cut":
        return stream.deltas[: fault.after_chunks], [], b""
    if fault.action == "stream_error":
        assert fault.error is not None
        return stream.deltas[: fault.after_chunks], [error_event(call, fault.error)], _END
    return stream.deltas, list(stream.tail), _END


def _framed(events: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Events as one HTTP chunk; nothing for no events (an empty chunk would end the body)."""
    data = b"".join(events)
    return chunk(data) if data else b""

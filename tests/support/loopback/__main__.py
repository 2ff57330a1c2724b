"""Run a loopback fake provider in the foreground until Ctrl-C, its lifetime or its request cap::

    python -m tests.support.loopback --port 8765 --latency-ms 50 --fault-rate 0.05

It prints one line, ``listening on http://127.0.0.1:PORT``, once it accepts connections, so a
parent process can start it with ``--port 0`` and read the port back. Its counters are at
``GET /_loopback/stats`` and ``GET /_loopback/calls?pattern=REGEX[&answered=1]``.
"""

from __future__ import annotations

import argparse
import sys

from tests.support.loopback.script import Behaviour, FaultMix
from tests.support.loopback.server import LoopbackServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.loopback", description=__doc__.split("::")[0])
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="time before the first byte")
    parser.add_argument("--text", default=None, help="answer text (default: echo of the last user message)")
    parser.add_argument("--chunks", type=int, default=5, help="text events per streamed answer")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="time between stream events")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests given a random fault")
    parser.add_argument("--fault-kinds", default="429,500,drop,hang", help="comma-separated fault names")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--lifetime-s", type=float, default=600.0)
    return parser.parse_args(argv)


def server_from(args: argparse.Namespace) -> LoopbackServer:
    behaviour = Behaviour(latency_s=args.latency_ms / 1000, text=args.text, chunks=args.chunks,
                          chunk_delay_s=args.chunk_delay_ms / 1000)
    faults = None
    if args.fault_rate > 0:
        kinds = tuple(kind.strip() for kind in args.fault_kinds.split(",") if kind.strip())
        faults = FaultMix(rate=args.fault_rate, kinds=kinds, seed=args.seed)
    return LoopbackServer(behaviour, faults=faults, port=args.port, max_requests=args.max_requests,
                          lifetime_s=args.lifetime_s)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = server_from(args).start()
    print(f"listening on {server.url}", flush=True)
    try:
        while not server.wait_stopped(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    stats = server.stats()
    print(f"stopped ({server.stop_reason}): {stats.total} requests, {stats.answered} answered", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the fake batch APIs (and the loopback's live routes) in the foreground until Ctrl-C or
its lifetime::

    python -m tests.support.fake_batch --port 8766 --pending-polls 2 --fail-fraction 0.1

It prints ``listening on http://127.0.0.1:PORT`` once it accepts connections (``--port 0``: any
free port). Base URLs: OpenAI ``URL/v1``, Anthropic and Gemini ``URL``.
"""

from __future__ import annotations

import argparse
import sys

from tests.support.fake_batch.script import JobScript
from tests.support.fake_batch.server import FakeBatchServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_batch", description=__doc__.split("::")[0])
    parser.add_argument("--port", type=int, default=8766, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--api-key", default=None, help="the key every batch request must carry")
    parser.add_argument("--pending-polls", type=int, default=1, help="status polls a job stays pending")
    parser.add_argument("--fail-fraction", type=float, default=0.0, help="share of requests answered with an error")
    parser.add_argument("--no-shuffle", action="store_true", help="results in input order")
    parser.add_argument("--lifetime-s", type=float, default=3600.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = FakeBatchServer(api_key=args.api_key, port=args.port, lifetime_s=args.lifetime_s)
    server.set_default_script(JobScript(pending_polls=args.pending_polls, fail_fraction=args.fail_fraction, shuffle=not args.no_shuffle))
    server.start()
    print(f"listening on {server.url}", flush=True)
    try:
        while not server.wait_stopped(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print(f"stopped ({server.stop_reason}): {server.route_counts()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

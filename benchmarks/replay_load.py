"""How long reading a replay file takes, and how much memory its parse holds, each in a fresh
process (the replay provider parses a file once per process)::

    python -m benchmarks.replay_load [--repeat 5] [DATA ...]      (default: both built-ins)

For each file: the median and worst wall time of ``load_replay_file`` (read, decompress line by
line, parse, index), the peak resident memory of the process above its size after the imports,
and what stays resident once the parse is done. Prints a table and writes
``benchmarks/results/replay_load.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "replay_load.json"
DEFAULT_DATA = ("builtin:mmlu_pro_sample", "builtin:mmlu_pro")

# Run in the child: peak RSS (ru_maxrss, KiB on Linux) is the only honest peak, so each load gets
# a process of its own.
_CHILD = """
import json, resource, sys, time
from mmo.providers.replay import load_replay_file

def rss_kib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024

before = rss_kib()
started = time.perf_counter()
parsed = load_replay_file(sys.argv[1])
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "tasks": len(parsed.tasks), "peak_mib": (peak - before) / 1024, "held_mib": (rss_kib() - before) / 1024}))
"""


def measure(data: str, repeat: int) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", _CHILD, data], capture_output=True, text=True, check=True, timeout=300)
        runs.append(json.loads(done.stdout))
    seconds = [run["seconds"] for run in runs]
    return {
        "data": data,
        "tasks": runs[0]["tasks"],
        "repeat": repeat,
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
        "peak_mib": max(run["peak_mib"] for run in runs),
        "held_mib": statistics.median(run["held_mib"] for run in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="*", default=list(DEFAULT_DATA), help="replay files or builtin:NAME")
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per file (default 5)")
    args = parser.parse_args(argv)
    rows = [measure(data, args.repeat) for data in args.data]
    print(f"{'data':<26} {'tasks':>6} {'median':>8} {'max':>8} {'peak MiB':>9} {'held MiB':>9}")
    for row in rows:
        print(f"{row['data']:<26} {row['tasks']:>6,} {row['median_s']:>7.2f}s {row['max_s']:>7.2f}s {row['peak_mib']:>9.0f} {row['held_mib']:>9.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"results": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The loopback fake LLM provider used by tests and benchmarks.

``LoopbackServer`` serves the OpenAI, Anthropic and Gemini wire shapes on 127.0.0.1 with scripted
latency and faults; ``python -m benchmarks.loopback --port 8765 --latency-ms 50`` runs one in the
foreground. See ``server.py`` for the API and ``script.py`` for how responses are chosen.
"""

from benchmarks.loopback.script import Behaviour, Fault, FaultMix
from benchmarks.loopback.server import HOST, LoopbackServer
from benchmarks.loopback.tally import RequestRecord, Stats

__all__ = ["HOST", "Behaviour", "Fault", "FaultMix", "LoopbackServer", "RequestRecord", "Stats"]

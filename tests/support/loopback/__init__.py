"""The loopback fake LLM provider used by tests and benchmarks.

``LoopbackServer`` serves the OpenAI, Anthropic and Gemini wire shapes on 127.0.0.1 with scripted
latency and faults; ``python -m tests.support.loopback --port 8765 --latency-ms 50`` runs one in the
foreground. See ``server.py`` for the API and ``script.py`` for how responses are chosen.
"""

from tests.support.loopback.script import Behaviour, Fault, FaultMix
from tests.support.loopback.server import HOST, LoopbackServer
from tests.support.loopback.tally import RequestRecord, Stats

__all__ = ["HOST", "Behaviour", "Fault", "FaultMix", "LoopbackServer", "RequestRecord", "Stats"]

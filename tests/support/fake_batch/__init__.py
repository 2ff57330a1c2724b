"""The loopback fake of the OpenAI, Anthropic and Gemini batch APIs, for tests and benchmarks.

``FakeBatchServer`` (a ``LoopbackServer`` that also serves the batch routes under the same base
URLs) answers batch jobs exactly as the loopback answers live calls; ``JobScript`` tells a job how
to behave (pending polls, partial failure, expiry, cancellation, whole-job failure, result order,
hostile downloads). ``python -m tests.support.fake_batch --port 8766`` runs one in the foreground.
See ``server.py`` and ``script.py``.
"""

from tests.support.fake_batch.jobs import JobRecord
from tests.support.fake_batch.script import JobScript
from tests.support.fake_batch.server import FakeBatchServer

__all__ = ["FakeBatchServer", "JobRecord", "JobScript"]

"""Running a subprocess that obeys file permissions even when the tests run as root (CI does):
root writes into a read-only directory unless it loses ``CAP_DAC_OVERRIDE``. The child drops it
(and ``CAP_DAC_READ_SEARCH``) from its capability bounding set before it starts, so it keeps its
user id and files but meets permissions as any user would. Linux only; elsewhere a test skips."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Callable

import pytest

_PR_CAPBSET_DROP = 24
_CAPS = (1, 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH


def _drop_overrides() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def permission_bound() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes a root child obey permissions (None when not root: nothing to
    drop); skips the test where that cannot be done."""
    if os.geteuid() != 0:
        return None
    if not sys.platform.startswith("linux"):
        pytest.skip("dropping root's permission override needs Linux")
    try:
        subprocess.run(["true"], preexec_fn=_drop_overrides, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"cannot drop root's permission override here: {error}")
    return _drop_overrides


def run_bound(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``args`` run as a process that obeys file permissions, its output captured as text."""
    return subprocess.run(args, preexec_fn=permission_bound(), capture_output=True, text=True, timeout=60, **kwargs)

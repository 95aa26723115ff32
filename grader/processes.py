"""Stopping a process and everything it started: nothing is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import time

__all__ = ["stop_group"]


def stop_group(process: subprocess.Popen, first: int = signal.SIGTERM, grace: float = 2.0) -> None:
    """Send ``first`` to the process's group, give the leader ``grace`` seconds, then SIGKILL.

    The process must lead its own session (``start_new_session=True``). Signals land
    asynchronously, so the group is killed again until none of it is left, for at most 2 s.
    """
    try:
        os.killpg(process.pid, first)
        process.wait(timeout=grace)
    except (ProcessLookupError, PermissionError):
        pass
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.01)
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass  # unkillable (a process stuck in the kernel): nothing more can be done from here

"""Stopping a process and everything it started: nothing is left running."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

__all__ = ["stop_group", "wait_exact"]


def wait_exact(process: subprocess.Popen, timeout: float) -> int:
    """``process.wait(timeout)``, woken the moment the process ends.

    Popen.wait polls with sleeps of up to 50 ms, which a timing of a 2 s run cannot afford;
    Linux's pidfd wakes us at once. Raises subprocess.TimeoutExpired like Popen.wait.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux, or the process is already reaped
        return process.wait(timeout=timeout)
    try:
        ready, _, _ = select.select([pidfd], [], [], max(0.0, timeout))
    finally:
        os.close(pidfd)
    return process.wait(timeout=0 if ready else 0.001)


def stop_group(process: subprocess.Popen, first: int = signal.SIGTERM, grace: float = 2.0) -> None:
    """Send ``first`` to the process's group, give the leader ``grace`` seconds, then SIGKILL.

    The process must lead its own session (``start_new_session=True``). Signals land
    asynchronously, so the group is killed again until none of it is left, for at most 2 s.
    """
    try:
        os.killpg(process.pid, first)
        process.wait(timeout=grace)
    except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
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

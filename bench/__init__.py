"""``python -m bench``: how fast the checker and the feedback view are, on this machine.

Shared helpers: the child environment, timed subprocesses that are always stopped (their whole
process group), free ports and simple statistics. Every wait has a deadline.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from grader.processes import stop_group, wait_exact

__all__ = ["PYTHON", "BenchError", "child_env", "free_port", "median", "p90", "run_timed",
           "runs", "start", "stop", "tail"]

PYTHON = sys.executable  # the venv's python when run as `make bench`


class BenchError(Exception):
    """A measurement could not be taken; the message says why in plain words."""


def runs(default: int = 7) -> int:
    """How many times to repeat the check measurement: ``BENCH_RUNS``, else ``default``."""
    value = os.environ.get("BENCH_RUNS", "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise BenchError(f"BENCH_RUNS must be a whole number of runs, 1 or more, not {value!r}.")
    return int(value)


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a measured process: this one, minus what would redirect it.

    A REDIS_URL, CELERY_* or DATABASE_URL left in the shell would send the measured project to
    another broker or database and make figures from different machines incomparable.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "BENCH_RUNS")
           and not k.startswith(("CELERY_", "DJANGO_", "GRADER_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("SECRET_KEY", "bench-not-a-secret")  # settings fail closed without one
    env.update(overrides)
    return env


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(argv: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    """Start a process in a session of its own (so it can be stopped with all it started)."""
    with open(log, "ab") as out:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
    """Send ``sig`` to the process group, wait up to ``grace`` seconds, then SIGKILL it."""
    stop_group(process, sig, grace)


def run_timed(argv: list[str], cwd: Path, env: dict, log: Path,
              timeout: float) -> tuple[float, int]:
    """Run ``argv`` to the end; return its wall time in seconds and its exit status.

    On timeout it gets SIGINT first: `python -m grader check` then stops its own checker
    process (which lives in a session of its own, out of reach of our killpg).
    """
    began = time.perf_counter()
    process = start(argv, cwd, env, log)
    try:
        wait_exact(process, timeout)
    except subprocess.TimeoutExpired:
        stop(process, signal.SIGINT)
        raise BenchError(f"`{' '.join(argv[1:4])} ...` took more than {timeout:g} s and was "
                         f"stopped. Its output: {log}") from None
    finally:
        stop(process)
    return time.perf_counter() - began, process.returncode


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log, indented, to show under an error."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def median(values: list[float]) -> float:
    return statistics.median(values)


def p90(values: list[float]) -> float:
    """The 90th percentile by nearest rank: with few samples, one of the samples itself."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]

"""The real servers the tests use, chosen so that a student's own data is never touched.

- ``TEST_REDIS_URL`` (a server URL without a database), when set: the one someone named.
- In CI (``CI`` set): the Redis service on 127.0.0.1:6379, which CI owns.
- Elsewhere (a student's or a teacher's machine): a throwaway ``redis-server`` that keeps
  nothing on disk, on a free loopback port, started for this test process and stopped with it.
  Without ``redis-server`` installed, the tests that need a real Redis are skipped, and the
  checkers are still tested on the embedded broker.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time

__all__ = ["real_redis", "NO_REDIS"]

NO_REDIS = ("no real Redis to test on: `redis-server` is not installed (or set TEST_REDIS_URL to "
            "a server whose databases the tests may empty). Your own Redis is never used.")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@functools.cache
def real_redis() -> str | None:
    """The URL (no database) of a Redis server the tests may use freely, or None."""
    named = os.environ.get("TEST_REDIS_URL")
    if named:
        return named.rstrip("/")
    if os.environ.get("CI"):
        return "redis://127.0.0.1:6379"
    server = shutil.which("redis-server")
    if not server:
        return None
    port = _free_port()
    folder = tempfile.mkdtemp(prefix="encore-test-redis-")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", folder, "--logfile", ""], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 10
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            return None
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}"

"""Child processes in one terminal: their lines relayed under a label each, and a clean stop.

``make run`` and ``make flower`` (grader/stack.py) start their processes through this module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .processes import stop_group

__all__ = ["Child", "Output", "exit_words", "stop_all", "GRACE", "NAMES", "WINDOWS"]

GRACE = 10.0  # seconds for a warm shutdown: Celery finishes the task it is running
WINDOWS = os.name == "nt"
_COLOURS = {"web": "36", "worker": "35", "beat": "32", "flower": "34", "broker": "33"}
_WIDTH = max(map(len, _COLOURS))
NAMES = {"web": "web server", "worker": "worker", "beat": "beat", "flower": "Flower"}


class Output:
    """Whole lines from many threads, each under a padded (and, on a terminal, coloured) label."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.colour = stream.isatty() and not os.environ.get("NO_COLOR")
        self._lock = threading.Lock()  # lines from different children must not mix mid-line

    def say(self, label: str | None, text: str) -> None:
        prefix = ""
        if label:
            prefix = f"{label:<{_WIDTH}}│ "
            if self.colour:
                prefix = f"\033[{_COLOURS.get(label, '0')}m{prefix}\033[0m"
        with self._lock:
            self.stream.write(prefix + text + "\n")
            self.stream.flush()


class Child:
    """A process in a session of its own whose output is relayed line by line."""

    def __init__(self, label: str, argv: list[str], cwd: Path, env: dict, out: Output):
        self.label, self.out, self.tail, self.finished = label, out, [], False
        # Its own session: the terminal's Ctrl-C reaches only us, and we stop the children in
        # order; and a signal to the group reaches the autoreloader's or the pool's processes.
        extra = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if WINDOWS
                 else {"start_new_session": True})
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **extra)
        self._pump = threading.Thread(target=self._relay, name=f"relay-{label}", daemon=True)
        self._pump.start()

    def _relay(self) -> None:
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.tail = (self.tail + [line])[-20:]
            self.out.say(self.label, line)
        self.process.stdout.close()

    def poll(self) -> int | None:
        return self.process.poll()

    def drain(self, timeout: float = 1.0) -> None:
        """Wait for the relay to print the last lines of a child that has exited."""
        self._pump.join(timeout)

    def signal(self, sig: int, *, group: bool = True) -> None:
        """Send ``sig`` to the child's process group (or to the child alone)."""
        try:
            if WINDOWS:
                self.process.send_signal(signal.CTRL_BREAK_EVENT)
            elif group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except (ProcessLookupError, PermissionError, OSError):
            pass  # already gone

    def finish(self) -> None:
        """Kill whatever is left of the group, and wait for the relay to drain."""
        if self.finished:
            return
        if not WINDOWS:
            stop_group(self.process, signal.SIGKILL, 0)  # also stragglers whose leader has exited
        elif self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self._pump.join(2)
        self.finished = True


def exit_words(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def stop_all(children: list[Child], sig: int, signals: list[int], out: Output) -> None:
    """Ask each child to stop, give them GRACE seconds together, then kill what is left.

    A further Ctrl-C (or SIGTERM) while they stop cuts the wait short.
    """
    for child in children:
        if not child.finished and child.poll() is None:
            # The prefork pool's processes die at once on SIGTERM (they ignore SIGINT), so a
            # worker's SIGTERM goes to its main process alone, which then shuts down warm.
            child.signal(sig, group=not (child.label == "worker" and sig == signal.SIGTERM))
    deadline, asked = time.monotonic() + GRACE, len(signals)
    while time.monotonic() < deadline and len(signals) == asked:
        if all(child.poll() is not None for child in children):
            break
        time.sleep(0.1)
    for child in children:
        if not child.finished and child.poll() is None:
            why = "at once, as asked" if len(signals) > asked else f"after {GRACE:g} s"
            lost = ": the task it was running did not finish" if child.label == "worker" else ""
            out.say(None, f"Killed the {NAMES[child.label]} {why}{lost}.")
        child.finish()

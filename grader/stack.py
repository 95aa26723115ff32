"""``make run``: the Encore site, a Celery worker and a broker, in one terminal.

The broker is the Redis that ``REDIS_URL`` names (from the environment, else the project's
``.env``) once it has answered a ping, or else an embedded fakeredis server run in this process
and handed to the children as ``REDIS_URL`` (the project's settings derive the Celery URLs from
it). Then ``manage.py migrate`` runs, then ``manage.py runserver`` and ``celery worker`` run side
by side, their lines interleaved under a label each. The worker starts only once the project has
``config/celery.py`` (exercise 01).

Ctrl-C or SIGTERM stops both children (up to 10 s for the worker to finish its running task, then
SIGKILL), then the embedded broker; the exit status is 0. If a child stops on its own, the other
is stopped too and the exit status is 1. Nothing started here is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .harness.broker import BrokerUnreachable, EmbeddedRedis, ping, redact
from .processes import stop_group

__all__ = ["run_stack", "read_dotenv"]

GRACE = 10.0  # seconds for a warm shutdown: Celery finishes the task it is running
WINDOWS = os.name == "nt"
_COLOURS = {"web": "36", "worker": "35", "broker": "33"}
_WIDTH = max(map(len, _COLOURS))
_NAMES = {"web": "web server", "worker": "worker"}


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


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; comments, blank lines and anything else are skipped."""
    values = {}
    if not path.is_file():
        return values
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        if line.startswith("#") or not sep or not key.strip().isidentifier():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _exit_words(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _stop_all(children: list[Child], sig: int, signals: list[int], out: Output) -> None:
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
            out.say(None, f"Killed the {_NAMES[child.label]} {why}{lost}.")
        child.finish()


def _report_exit(ended: Child, children: list[Child], port: str, out: Output) -> None:
    """Say which child stopped on its own, after its last lines (they usually say why)."""
    ended.drain()
    others = " and ".join(_NAMES[c.label] for c in children if c is not ended)
    text = f"The {_NAMES[ended.label]} stopped on its own ({_exit_words(ended.poll())})"
    out.say(None, text + (f": stopping the {others}." if others else "."))
    if any("port is already in use" in line for line in ended.tail):
        out.say(None, f"Port {port} is taken: stop what uses it, or run "
                      f"`PORT={int(port) + 1} make run`.")


def _broker(project: Path):
    """The broker URL, and the embedded server when there is one. Raises BrokerUnreachable."""
    url = os.environ.get("REDIS_URL") or read_dotenv(project / ".env").get("REDIS_URL")
    where = "your environment" if os.environ.get("REDIS_URL") else str(project / ".env")
    if url:
        try:
            ping(url).close()
        except BrokerUnreachable as exc:
            # Say where the URL came from: a forgotten line in .env is the usual surprise.
            raise BrokerUnreachable(f"REDIS_URL (set in {where}) names a broker that does not "
                                    f"answer. {exc}", exc.hint) from None
        return url, None, f"Redis at {redact(url)} (REDIS_URL in {where})"
    server = EmbeddedRedis(port=0).start()
    return server.url(0), server, f"embedded fakeredis at {server.url(0)}"


def run_stack(project: Path) -> int:
    """Run migrate, then web and worker until Ctrl-C/SIGTERM or until one of them stops."""
    project = Path(project).resolve()
    out = Output()
    if not (project / "manage.py").is_file():
        print(f"{project} is not a Django project (there is no manage.py in it). "
              "Point PROJECT= at the folder that holds manage.py.", file=sys.stderr)
        return 2
    port = os.environ.get("PORT", "8000")
    if not port.isdigit() or not 0 < int(port) < 65536:
        print(f"PORT must be a port number such as 8000, not {port!r}.", file=sys.stderr)
        return 2
    try:
        url, server, label = _broker(project)
    except BrokerUnreachable as exc:
        print(f"{exc}\n{exc.hint}", file=sys.stderr)
        return 1

    signals: list[int] = []
    stop = threading.Event()

    def on_signal(signum, _frame):
        signals.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        out.say(None, f"Encore on http://127.0.0.1:{port}/ · broker: {label} · Ctrl-C stops it all")
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # children write to pipes: flush each line
        if server:
            env["REDIS_URL"] = url
            dotenv = read_dotenv(project / ".env")
            for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
                # Celery prefers these variables over the settings that follow REDIS_URL.
                if env.pop(name, None):
                    out.say("broker", f"{name} is set in your environment: ignored here, "
                                      "so that the web and the worker use the embedded broker.")
                elif dotenv.get(name):
                    out.say("broker", f"{name} in .env wins over the embedded broker; remove "
                                      "it, or set REDIS_URL there instead.")
            out.say("broker", "What the embedded broker holds is lost when `make run` stops; "
                              "set REDIS_URL to use a real Redis.")
        python = sys.executable
        children.append(Child("web", [python, "manage.py", "migrate", "--noinput"],
                              project, env, out))
        while children[0].poll() is None and not stop.wait(0.1):
            pass
        if stop.is_set():
            _stop_all(children, signals[0], signals, out)
            out.say(None, "Stopped before the web server started.")
            return 0
        if children[0].poll() != 0:
            children[0].drain()
            out.say(None, f"`manage.py migrate` failed ({_exit_words(children[0].poll())}); "
                          "fix the error above, then run `make run` again.")
            return 1
        children[0].finish()
        children.clear()
        children.append(Child("web", [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
                              project, env, out))
        if (project / "config" / "celery.py").is_file():
            pool = ["-P", "solo"] if WINDOWS else []  # prefork cannot run on Windows
            children.append(Child("worker", [python, "-m", "celery", "-A", "config", "worker",
                                             "-l", "info", *pool], project, env, out))
            out.say("worker", "A worker does not reload code: restart `make run` after you "
                              "add or change a task.")
        else:
            out.say("worker", "No worker yet: it starts once config/celery.py exists "
                              "(exercise 01).")
        while not stop.wait(0.2):
            ended = next((c for c in children if c.poll() is not None), None)
            if ended:
                _report_exit(ended, children, port, out)
                _stop_all(children, signal.SIGTERM, signals, out)
                return 1
        if len(children) > 1:
            out.say(None, "Stopping: the worker finishes its running task (up to "
                          f"{GRACE:g} s); Ctrl-C again stops everything at once.")
        _stop_all(children, signals[0], signals, out)
        out.say(None, "Stopped.")
        return 0
    finally:
        _stop_all(children, signal.SIGTERM, signals, out)  # a no-op when they are already gone
        if server:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

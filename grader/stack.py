"""``make run``: the Encore site and its Celery processes in one terminal; ``make flower``: Flower.

``make run`` uses the Redis that ``REDIS_URL`` names (from the environment, else the project's
``.env``) once it has answered a ping, or else an embedded fakeredis server run in this process
and handed to the children as ``REDIS_URL`` (the project's settings derive the Celery URLs from
it). Then ``manage.py migrate`` runs, then these run side by side, their lines interleaved
under a label each:

- ``web``: ``manage.py runserver`` on 127.0.0.1:PORT (8000);
- ``worker``: ``celery worker``, once the project has ``config/celery.py`` (exercise 01);
- ``beat``: ``celery beat``, once the Celery app has a beat schedule (exercise 06); its
  schedule file lives in the repository's ``.cache/beat/``, never in the project;
- ``flower``: Flower on http://127.0.0.1:FLOWER_PORT/ (5555), once the project has
  ``flowerconfig.py`` (exercise 08). Its login is ``FLOWER_BASIC_AUTH`` (environment, else
  ``.env``); without one, a login is made up for this run and printed: Flower never runs open.
  If its port is taken, the rest runs without it.

``make flower`` runs Flower alone, for a web server and worker started by hand: on the broker
``REDIS_URL`` names, else redis://localhost:6379/0 (a local Redis, or ``make broker``). To watch
``make run``'s embedded broker, use the Flower ``make run`` starts.

Ctrl-C or SIGTERM stops every child (up to 10 s for the worker to finish its running task,
then SIGKILL), then the embedded broker; the exit status is 0. If a child stops on its own, the
others are stopped too and the exit status is 1. Nothing started here is left running.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from .children import GRACE, NAMES, WINDOWS, Child, Output, exit_words, stop_all
from .harness.broker import BrokerUnreachable, EmbeddedRedis, ping, redact
from .local_broker import (DEFAULT_REDIS, forget_running_broker, note_running_broker,
                           read_dotenv, setting)
from .report import shown

__all__ = ["run_flower", "run_stack", "read_dotenv"]

REPO = Path(__file__).resolve().parents[1]
_NO_BROKER_FOR_FLOWER = ("Flower watches the broker your worker uses: start that broker first "
                         "(a Redis, or `make broker` in another terminal), or point REDIS_URL "
                         "at it. `make run` starts a Flower of its own, on its own broker.")
PROBE_LIMIT = 30.0  # seconds for the project's Celery app to say what it schedules
# Asks the project's Celery app for its beat schedule's entry names, without starting Django.
_SCHEDULE_PROBE = (
    "import json, os, sys\n"
    "sys.path.insert(0, os.getcwd())\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
    "from config.celery import app\n"
    "print(json.dumps(sorted(app.conf.beat_schedule or {})))\n"
)


def _broker(project: Path, embedded: bool = True):
    """The broker URL, and the embedded server when there is one. Raises BrokerUnreachable."""
    url, where = setting(project, "REDIS_URL")
    if url:
        try:
            ping(url).close()
        except BrokerUnreachable as exc:
            # Say where the URL came from: a forgotten line in .env is the usual surprise.
            raise BrokerUnreachable(f"REDIS_URL (set in {where}) names a broker that does not "
                                    f"answer. {exc}", exc.hint) from None
        return url, None, f"Redis at {redact(url)} (REDIS_URL in {where})"
    if not embedded:
        try:
            ping(DEFAULT_REDIS).close()
        except BrokerUnreachable:
            raise BrokerUnreachable(
                f"REDIS_URL is not set, and nothing answers at {DEFAULT_REDIS}, where your "
                "project's worker looks for the broker then.", _NO_BROKER_FOR_FLOWER) from None
        return DEFAULT_REDIS, None, f"Redis at {DEFAULT_REDIS} (REDIS_URL is not set)"
    server = EmbeddedRedis(port=0).start()
    return server.url(0), server, f"embedded fakeredis at {server.url(0)}"


def _port(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{name} must be a port number such as {default}, not {value!r}.")
    return int(value)


class _Refused(Exception):
    """A reason not to start at all, in plain words, and the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _refusing(run):
    """``run`` on the resolved project folder; a _Refused is printed and becomes the status."""
    @functools.wraps(run)
    def guarded(project: Path) -> int:
        try:
            return run(Path(project).resolve())
        except _Refused as exc:
            print(exc, file=sys.stderr)
            return exc.status
    return guarded


def _prepare(project: Path, embedded: bool, required: str, missing: str):
    """(web port, Flower port, (broker URL, embedded server, label)); raises _Refused.

    ``required`` is a file the project must have, and ``missing`` what to say without it.
    """
    if not (project / required).is_file():
        raise _Refused(missing, 2)
    try:
        ports = _port("PORT", "8000"), _port("FLOWER_PORT", "5555")
        return (*ports, _broker(project, embedded))
    except ValueError as exc:
        raise _Refused(str(exc), 2) from None
    except BrokerUnreachable as exc:
        raise _Refused(f"{exc}\n{exc.hint if embedded else _NO_BROKER_FOR_FLOWER}", 1) from None


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def _flower_login(project: Path) -> tuple[str, str]:
    """Flower's login ("user:password") and the line that tells the student how to log in."""
    login, where = setting(project, "FLOWER_BASIC_AUTH")
    if login:
        user = login.split(",")[0].partition(":")[0]
        return login, f"log in as {user}, with the password in FLOWER_BASIC_AUTH ({where})"
    login = f"encore:{secrets.token_urlsafe(9)}"
    return login, (f"log in as encore, password {login.partition(':')[2]} (made up for this "
                   "run: set FLOWER_BASIC_AUTH in .env to choose your own)")


def _flower_argv(port: int) -> list[str]:
    # 127.0.0.1 only: Flower's default address is every interface of the machine.
    return [sys.executable, "-m", "celery", "-A", "config", "flower", "--address=127.0.0.1",
            f"--port={port}"]


def _schedule_file(project: Path) -> Path:
    """Beat's schedule file, in the repository's cache: one per project folder."""
    key = hashlib.sha256(str(project).encode()).hexdigest()[:12]
    folder = REPO / ".cache" / "beat" / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "celerybeat-schedule"


class _Schedule:
    """What the project's Celery app schedules, asked in a process of its own (with migrate)."""

    def __init__(self, project: Path, env: dict):
        extra = {} if WINDOWS else {"start_new_session": True}
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SCHEDULE_PROBE], cwd=project, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **extra)

    def entries(self) -> list[str] | None:
        """The entry names; None when the app does not load (the worker will show why)."""
        try:
            output, _ = self._process.communicate(timeout=PROBE_LIMIT)
            return json.loads(output.decode().strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            self.stop()
            return None

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def _joined(words: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return ", ".join(words[:-1]) + " and " * (len(words) > 1) + "".join(words[-1:])


def _report_exit(ended: Child, children: list[Child], out: Output) -> None:
    """Say which child stopped on its own, after its last lines (they usually say why)."""
    ended.drain()
    others = _joined([NAMES[c.label] for c in children if c is not ended])
    text = f"The {NAMES[ended.label]} stopped on its own ({exit_words(ended.poll())})"
    out.say(None, text + (f": stopping the {others}." if others else "."))
    if ended.label == "web" and any("port is already in use" in line for line in ended.tail):
        port = os.environ.get("PORT", "8000")
        out.say(None, f"Port {port} is taken: stop what uses it, or run "
                      f"`PORT={int(port) + 1} make run`.")


def _supervise(children: list[Child], stop: threading.Event, signals: list[int],
               out: Output) -> int:
    """Relay until Ctrl-C/SIGTERM (exit 0) or until a child stops on its own (exit 1)."""
    while not stop.wait(0.2):
        ended = next((c for c in children if c.poll() is not None), None)
        if ended:
            _report_exit(ended, children, out)
            stop_all(children, signal.SIGTERM, signals, out)
            return 1
    if any(c.label == "worker" for c in children):
        out.say(None, "Stopping: the worker finishes its running task (up to "
                      f"{GRACE:g} s); Ctrl-C again stops everything at once.")
    stop_all(children, signals[0], signals, out)
    out.say(None, "Stopped.")
    return 0


class _Signals:
    """Ctrl-C and SIGTERM, noted instead of raised, while the block runs."""

    def __enter__(self):
        self.received: list[int] = []
        self.stop = threading.Event()
        self._previous = {s: signal.signal(s, self._on) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _on(self, signum, _frame):
        self.received.append(signum)
        self.stop.set()

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _celery_children(project: Path, env: dict, schedule: _Schedule, port: int,
                     out: Output) -> list[Child]:
    """The worker; beat when something is scheduled; Flower once it has a config file."""
    python = sys.executable
    pool = ["-P", "solo"] if WINDOWS else []  # prefork cannot run on Windows
    children = [Child("worker", [python, "-m", "celery", "-A", "config", "worker", "-l", "info",
                                 *pool], project, env, out)]
    out.say("worker", "A worker does not reload code: restart `make run` after you add or "
                      "change a task.")
    entries = schedule.entries()
    if entries:
        beat_file = _schedule_file(project)
        children.append(Child("beat", [python, "-m", "celery", "-A", "config", "beat", "-l",
                                       "info", "-s", str(beat_file)], project, env, out))
        out.say("beat", f"Sends {_joined(entries)} when due (CELERY_BEAT_SCHEDULE); "
                        f"schedule file: {shown(beat_file)}")
    else:
        out.say("beat", "No beat: your Celery app schedules nothing yet (CELERY_BEAT_SCHEDULE, "
                        "lesson 06)." if entries == [] else
                        "No beat: your Celery app did not load (the worker's lines say why).")
    if not (project / "flowerconfig.py").is_file():
        out.say("flower", "No Flower yet: it starts once flowerconfig.py exists, next to "
                          "manage.py (lesson 08).")
        return children
    if _port_taken(port):
        out.say("flower", f"No Flower in this run: port {port} is taken (another Flower? "
                          f"`make flower` in another terminal?). Stop it, or run "
                          f"`FLOWER_PORT={port + 1} make run`.")
        return children
    login, how = _flower_login(project)
    children.append(Child("flower", _flower_argv(port), project,
                          dict(env, FLOWER_BASIC_AUTH=login), out))
    out.say("flower", f"Flower on http://127.0.0.1:{port}/ · {how}")
    return children


@_refusing
def run_stack(project: Path) -> int:
    """Run migrate, then web, worker, beat and Flower until Ctrl-C/SIGTERM or one stops."""
    port, flower_port, (url, server, label) = _prepare(
        project, True, "manage.py", f"{project} is not a Django project (there is no "
        "manage.py in it). Point PROJECT= at the folder that holds manage.py.")
    out = Output()
    children: list[Child] = []
    schedule = None
    with _Signals() as signals:
        try:
            out.say(None, f"Encore on http://127.0.0.1:{port}/ · broker: {label} · "
                          "Ctrl-C stops it all")
            env = dict(os.environ, PYTHONUNBUFFERED="1")  # children write to pipes: flush lines
            _debug_on_this_machine(project, env)
            if server:
                env["REDIS_URL"] = url
                note_running_broker(url)
                _embedded_notes(project, env, out)
            python = sys.executable
            celery = (project / "config" / "celery.py").is_file()
            schedule = _Schedule(project, env) if celery else None
            children.append(Child("web", [python, "manage.py", "migrate", "--noinput"],
                                  project, env, out))
            while children[0].poll() is None and not signals.stop.wait(0.1):
                pass
            if signals.stop.is_set():
                stop_all(children, signals.received[0], signals.received, out)
                out.say(None, "Stopped before the web server started.")
                return 0
            if children[0].poll() != 0:
                children[0].drain()
                out.say(None, f"`manage.py migrate` failed ({exit_words(children[0].poll())}); "
                              "fix the error above, then run `make run` again.")
                return 1
            children[0].finish()
            children.clear()
            children.append(Child("web", [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
                                  project, env, out))
            if celery:
                children += _celery_children(project, env, schedule, flower_port, out)
            else:
                out.say("worker", "No worker yet: it starts once config/celery.py exists "
                                  "(exercise 01).")
            return _supervise(children, signals.stop, signals.received, out)
        finally:
            stop_all(children, signal.SIGTERM, signals.received, out)  # no-op once all are gone
            if schedule:
                schedule.stop()
            if server:
                forget_running_broker()
                server.stop()


def _debug_on_this_machine(project: Path, env: dict) -> None:
    """DEBUG on for a run on the student's own machine, unless they chose (settings fail
    closed: DEBUG is off and SECRET_KEY required wherever nobody says otherwise)."""
    if setting(project, "DEBUG")[0] is None:
        env["DEBUG"] = "True"


def _embedded_notes(project: Path, env: dict, out: Output) -> None:
    """Keep Celery's own URL variables from pointing the children away from the embedded broker."""
    dotenv = read_dotenv(project / ".env")
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        # Celery prefers these variables over the settings that follow REDIS_URL.
        if env.pop(name, None):
            out.say("broker", f"{name} is set in your environment: ignored here, "
                              "so that every process uses the embedded broker.")
        elif dotenv.get(name):
            out.say("broker", f"{name} in .env wins over the embedded broker; remove "
                              "it, or set REDIS_URL there instead.")
    out.say("broker", "What the embedded broker holds is lost when `make run` stops; "
                      "set REDIS_URL to use a real Redis.")


@_refusing
def run_flower(project: Path) -> int:
    """Run Flower alone on the project's broker until Ctrl-C/SIGTERM."""
    _, port, (url, _, label) = _prepare(
        project, False, "config/celery.py", f"{project} has no config/celery.py yet: "
        "Flower watches a Celery app, which exercise 01 adds.")
    if _port_taken(port):
        raise _Refused(f"Port {port} is taken, perhaps by the Flower of a `make run` or of "
                       f"another `make flower`. Stop it, or run `FLOWER_PORT={port + 1} make "
                       "flower`.", 1)
    out = Output()
    login, how = _flower_login(project)
    env = dict(os.environ, PYTHONUNBUFFERED="1", REDIS_URL=url, FLOWER_BASIC_AUTH=login)
    _debug_on_this_machine(project, env)
    children: list[Child] = []
    with _Signals() as signals:
        try:
            out.say(None, f"Flower on http://127.0.0.1:{port}/ · broker: {label} · Ctrl-C "
                          "stops it")
            out.say("flower", how)
            children.append(Child("flower", _flower_argv(port), project, env, out))
            return _supervise(children, signals.stop, signals.received, out)
        finally:
            stop_all(children, signal.SIGTERM, signals.received, out)

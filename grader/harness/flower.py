"""Flower's real web application, in this process, watching the run's broker.

Flower is a tornado application; here it is built the way ``celery flower`` builds it and
served on a free loopback port from an IOLoop thread of its own, while an event receiver
thread feeds it the events that travel over the broker. Two things differ from
``celery flower``, on purpose:

- Flower's ``enable_events`` broadcast is off. Flower normally tells every worker, every five
  seconds, to start sending task events: a project that forgot CELERY_WORKER_SEND_TASK_EVENTS
  would look right. Here the project's own settings alone decide which events exist.
- The receiver stops when asked (Flower's own loops forever), so a run ends in well under a
  second, with nothing left behind.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import threading
import time
import traceback
from collections import defaultdict
from pathlib import Path

from .tracebacks import student_traceback

__all__ = ["FlowerConfigError", "InProcessFlower", "load_flower_config"]

_PROBE = "grader-probe"  # an event type of our own: proof that the receiver hears the broker


class FlowerConfigError(Exception):
    """The project's Flower config could not be read; ``args[0]`` says why.

    ``error`` is the exception the student's file raised (None when Flower refused a value).
    """

    def __init__(self, message: str, error: BaseException | None = None):
        super().__init__(message)
        self.error = error


def _options():
    from flower.options import default_options  # defines Flower's options on tornado's parser
    return default_options


def load_flower_config(path: Path) -> dict:
    """Read ``path`` as ``celery flower`` reads flowerconfig.py; return the options it set.

    The values land on Flower's (global) options, exactly as they would in ``celery flower``.
    Raises FlowerConfigError with the student's own traceback when the file fails.
    """
    options = _options()
    before = {name: options[name] for name in options}
    try:
        options.parse_config_file(str(path), final=False)
    except (Exception, SystemExit) as exc:
        raise FlowerConfigError(*_explain(path, exc)) from None
    return {name: options[name] for name in options if options[name] != before[name]}


def _explain(path: Path, exc: BaseException) -> tuple[str, BaseException | None]:
    """The error, with the student's own file and line (tornado runs the file as "<string>")."""
    try:
        exec(compile(path.read_text(errors="replace"), str(path), "exec"),
             {"__file__": str(path)})
    except SyntaxError as again:
        again.filename = path.name
        return "".join(traceback.format_exception_only(type(again), again)).rstrip(), again
    except (Exception, SystemExit) as again:
        return student_traceback(again, path.parent), again
    return str(exc), None  # the file runs, and Flower refuses a value (a wrong type)


class _Receiver:
    """Captures events from the broker for Flower's state, and records each task's events."""

    def __init__(self, app, state_event):
        self.app = app
        self._state_event = state_event
        self.seen: dict[str, list[str]] = defaultdict(list)
        self.arrived: dict[str, dict[str, float]] = defaultdict(dict)  # first arrival (monotonic)
        self.heard_probe = threading.Event()
        self.error: BaseException | None = None
        self._receiver = None
        self._thread = threading.Thread(target=self._run, name="flower-events", daemon=True)

    def _on_event(self, event):
        kind = event.get("type", "")
        if kind == _PROBE:
            self.heard_probe.set()
            return
        if event.get("uuid"):
            self.seen[event["uuid"]].append(kind)
            self.arrived[event["uuid"]].setdefault(kind, time.monotonic())
        self._state_event(event)

    def _run(self):
        from celery.events import EventReceiver
        try:
            with self.app.connection_for_read() as conn:
                self._receiver = EventReceiver(conn, handlers={"*": self._on_event},
                                               app=self.app)
                # A short safety interval: the loop notices should_stop within 0.1 s.
                for _ in self._receiver.consume(limit=None, timeout=None, safety_interval=0.1,
                                                wakeup=False):
                    pass
        except Exception as exc:  # reported by wait_listening, never raised in this thread
            self.error = exc

    def start(self):
        self._thread.start()

    def wait_listening(self, within: float) -> bool:
        """Publish probe events until one comes back: then nothing sent later is missed."""
        deadline = time.monotonic() + within
        with self.app.connection_for_write() as conn:
            dispatcher = self.app.events.Dispatcher(conn, hostname="grader@probe", enabled=True)
            while time.monotonic() < deadline and self._thread.is_alive():
                dispatcher.send(_PROBE)
                if self.heard_probe.wait(0.05):
                    return True
        return False

    def stop(self, within: float):
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(within)


class InProcessFlower:
    """Flower for ``app`` on a free port of 127.0.0.1, asking for ``login`` ("user:password").

    ``start()`` returns once Flower answers and hears the broker; ``stop()`` ends it all.
    ``options`` is Flower's options object: changing ``options.basic_auth``, or loading a
    project's flowerconfig.py with ``load_config``, changes what the running Flower asks for,
    as a restart with that config would.
    """

    def __init__(self, app, login: str):
        self.app = app
        self.login = login
        self.options = _options()
        self._saved = {name: self.options[name] for name in self.options}
        self.options.basic_auth = [login]
        self.options.enable_events = False
        self.options.persistent = False
        self.options.auth = ""
        self.flower = None
        self.port = None
        self.receiver = None
        self._loop = None
        self._server = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="flower-ioloop", daemon=True)

    # -- running ------------------------------------------------------------------------------

    def _serve(self):
        # As `celery flower` does: no access log (here it would only fill the run's log).
        access = logging.getLogger("tornado.access")
        access.addHandler(logging.NullHandler())
        access.propagate = False
        try:
            from flower.app import Flower
            from flower.urls import settings
            from tornado.httpserver import HTTPServer
            from tornado.ioloop import IOLoop
            from tornado.netutil import bind_sockets

            asyncio.set_event_loop(asyncio.new_event_loop())
            self._loop = IOLoop.current()
            self.flower = Flower(options=self.options, capp=self.app, io_loop=self._loop,
                                 events=_NoEvents(), **settings)
            from flower.events import EventsState
            self.flower.events.state = EventsState(max_tasks_in_memory=1000)
            self.receiver = _Receiver(self.app, self._to_state)
            sockets = bind_sockets(0, "127.0.0.1")
            self._server = HTTPServer(self.flower)
            self._server.add_sockets(sockets)
            self.port = sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.start()
        self._loop.close(all_fds=True)

    def _to_state(self, event):
        # Flower's state lives on its IOLoop thread, as in Flower itself.
        self._loop.add_callback(self.flower.events.state.event, event)

    def start(self, within: float = 5.0) -> "InProcessFlower":
        """Serve Flower and start hearing events; raise RuntimeError if either fails."""
        self._thread.start()
        if not self._ready.wait(within) or self._failure:
            self.stop()
            raise RuntimeError(f"Flower did not start: {self._failure or 'no answer'}")
        self.receiver.start()
        if not self.receiver.wait_listening(within):
            self.stop()
            why = self.receiver.error or f"no event came back within {within:g} s"
            raise RuntimeError(f"Flower could not hear the broker's events: {why}")
        return self

    def stop(self, within: float = 2.0) -> None:
        """Stop serving, stop the receiver, and give Flower's options back their values."""
        if self.receiver:
            self.receiver.stop(within)
        if self._loop is not None and self._thread.is_alive():
            def _halt():
                self._server.stop()
                self._loop.stop()
            self._loop.add_callback(_halt)
            self._thread.join(within)
        if self.flower is not None:
            self.flower.executor.shutdown(wait=False)
        for name, value in self._saved.items():
            setattr(self.options, name, value)

    # -- asking it ----------------------------------------------------------------------------

    def get(self, path: str, login: str | None = None, timeout: float = 3.0) -> tuple[int, str]:
        """GET ``path`` from Flower, with ``login`` ("user:password") as basic auth if given."""
        headers = {}
        if login is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def load_config(self, path: Path) -> dict:
        """Load a flowerconfig.py into this Flower's options (see load_flower_config)."""
        return load_flower_config(path)

    def task(self, task_id: str, login: str, state: str = "SUCCESS",
             within: float = 1.0) -> dict | None:
        """The task as Flower's /api/tasks lists it, once in ``state`` or after ``within`` s."""
        deadline = time.monotonic() + within
        while True:
            status, body = self.get("/api/tasks", login)
            task = json.loads(body).get(task_id) if status == 200 else None
            if (task or {}).get("state") == state or time.monotonic() > deadline:
                return task
            time.sleep(0.02)

    def events_of(self, task_id: str) -> list[str]:
        """The event types heard for one task, in order."""
        return list(self.receiver.seen.get(task_id, []))

    def arrived(self, task_id: str) -> dict[str, float]:
        """When each event type was first heard for one task (``time.monotonic()``)."""
        return dict(self.receiver.arrived.get(task_id, {}))

    def wait_for_events(self, task_id: str, kinds, within: float) -> list[str]:
        """Wait until every event type in ``kinds`` was heard for the task, or ``within`` s."""
        return self.wait_for_all({task_id: kinds}, within)[task_id]

    def wait_for_all(self, wanted: dict, within: float) -> dict[str, list[str]]:
        """Wait until every task in ``wanted`` (id: event types) was heard with all its types."""
        deadline = time.monotonic() + within
        while (not all(set(kinds) <= set(self.events_of(i)) for i, kinds in wanted.items())
               and time.monotonic() < deadline):
            time.sleep(0.02)
        return {task_id: self.events_of(task_id) for task_id in wanted}


class _NoEvents:
    """Stands in for Flower's own Events thread (its receiver never stops); see _Receiver."""

    state = None

    def start(self):
        pass

    def stop(self):
        pass

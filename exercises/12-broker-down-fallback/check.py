"""Exercise 12 · When Redis is down, run the task here, with a warning.

The checker makes a probe task of its own, decorated with your ``run_task`` over
``@shared_task`` (the probe's name comes from the seed), and calls its ``.delay()`` three times
from a thread of its own: with the broker up; with the broker unreachable (this process's
producer points at a port that accepts no connection: connecting hangs, as it does when a Redis
host is gone); and with the whole Redis unreachable, result backend included, as in this project
where both come from REDIS_URL. The worker keeps consuming from the real broker all along.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.harness import expect, fail, needs, timed

WITHIN = 2.0  # seconds .delay() may take with the broker unreachable
GIVE_UP = 6.0  # seconds after which this check stops waiting for .delay() to return
ran: list[tuple[str, int]] = []  # (token, thread id) for each run of the probe
probes: dict = {}


@dataclass
class Call:
    took: float | None = None  # None: .delay() had not returned after GIVE_UP
    thread: int = 0
    result: object = None
    error: BaseException | None = None
    records: list = field(default_factory=list)  # (level, logger, message)
    printed: str = ""
    warned: list = field(default_factory=list)  # messages given to warnings.warn()
    stuck: list = field(default_factory=list)  # where .delay() was, if not back after GIVE_UP

    def runs(self, token) -> list[int]:
        return [thread for t, thread in ran if t == token]


class _Records(logging.Handler):
    def __init__(self, call: Call):
        super().__init__(logging.DEBUG)
        self.call = call

    def emit(self, record):
        try:
            self.call.records.append((record.levelno, record.name, record.getMessage()))
        except Exception:
            pass


def _run_task(project):
    module = project.module("config.tasks", exercise="12")
    decorator = getattr(module, "run_task", None)
    expect(callable(decorator), "config/tasks.py has no function named run_task.",
           "def run_task(task): a decorator for a task", lesson="#step-2-the-run_task-decorator")
    return decorator


@pytest.fixture(scope="session")
def probe(project, celery_app, fake):
    """The probe task, decorated with the student's run_task; registered before the worker
    starts, so that the worker knows it."""
    from celery import shared_task

    token = fake.token(6).lower()
    name = f"encore_check.probe_{token}"

    def body(marker):
        ran.append((marker, threading.get_ident()))
        return marker

    body.__name__ = body.__qualname__ = f"probe_{token}"
    body.__module__ = "encore_check"
    decorator = _run_task(project)
    task = decorator(shared_task(name=name)(body))
    expect(task is not None and hasattr(task, "delay"),
           f"run_task(task) returned {task!r}, not the task.",
           "the task itself, back from the decorator: `return task` at its end",
           lesson="#step-2-the-run_task-decorator")
    celery_app.tasks[name]  # registered now, while the worker is not started yet
    probes.update(task=task, name=name, short=body.__name__)
    return task


def _call(task, marker) -> Call:
    """Call task.delay(marker) from a thread of its own, with its logs and prints recorded."""
    call = Call()
    handler = _Records(call)
    root = logging.getLogger()
    printed = io.StringIO()

    def go():
        call.thread = threading.get_ident()
        began = time.monotonic()
        try:
            call.result = task.delay(marker)
        except BaseException as exc:  # noqa: BLE001 - shown to the student
            call.error = exc
        call.took = time.monotonic() - began

    root.addHandler(handler)
    caller = threading.Thread(target=go, name="check-12-caller", daemon=True)
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            caller.start()
            caller.join(GIVE_UP)
            frame = sys._current_frames().get(caller.ident) if caller.is_alive() else None
            if frame is not None:
                call.stuck = traceback.extract_stack(frame)
    finally:
        root.removeHandler(handler)
    call.printed = printed.getvalue()
    call.warned = [str(w.message) for w in caught]
    return call


class _Unreachable:
    """A loopback port whose connections hang (it listens, but its queue is full), or, with
    ``refused``, one where nothing listens (Redis stopped on this host)."""

    def __init__(self, refused: bool = False):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        if refused:
            self.listener.close()
            return
        self.listener.listen(0)
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(OSError):
                filler.connect(("127.0.0.1", self.port))
            self.fillers.append(filler)

    def close(self):
        for sock in [*self.fillers, self.listener]:
            sock.close()


@contextlib.contextmanager
def _redis_unreachable(app, results_too: bool, refused: bool = False):
    """Point this process's producer (and, with ``results_too``, its result backend) at a
    port that never answers. The worker's own connections stay where they are."""
    dead = _Unreachable(refused)
    url = f"redis://127.0.0.1:{dead.port}/0"
    conf = app.conf
    saved = {"broker_write_url": conf.broker_write_url, "result_backend": conf.result_backend}
    pools = (app._pool, app.amqp._producer_pool)
    backend = getattr(app._local, "backend", None)
    try:
        conf.broker_write_url = url
        app._pool = app.amqp._producer_pool = None
        if results_too:
            conf.result_backend = url
            with contextlib.suppress(AttributeError):
                del app._local.backend  # this thread's backend; the worker keeps its own
        yield url
    finally:
        conf.broker_write_url = saved["broker_write_url"]
        conf.result_backend = saved["result_backend"]
        app._pool, app.amqp._producer_pool = pools
        if backend is not None:
            app._local.backend = backend
        dead.close()


# Celery's and kombu's own records (a task's "succeeded in 0.01s", reconnection errors) are
# not the student's warning, even when they name the task.
_THEIRS = ("celery.app.trace", "celery.backends", "celery.worker", "kombu")


def _named(call: Call) -> list[tuple[int, str, str]]:
    names = (probes["name"], probes["short"])
    return [r for r in call.records if any(n in r[2] for n in names)
            and not r[1].startswith(_THEIRS)]


def _in_fallback(exc: BaseException, root) -> bool:
    """Whether ``exc`` came from the student's own except branch: raised while handling an
    exception that had reached their code (kombu's OperationalError, raised while kombu
    handles redis-py's error, is not)."""
    from grader.harness.tracebacks import student_frames

    handled, seen = exc.__context__, set()
    while handled is not None and id(handled) not in seen:
        if student_frames(handled.__traceback__, root):
            return True
        seen.add(id(handled))
        handled = handled.__context__
    return False


def _fallback_traceback(exc: BaseException, root) -> tuple[str, bool]:
    """The exception with its frames in the student's files, a line repeated over and over
    (a fallback that calls itself) shown once; and whether there was such a loop."""
    from grader.harness.tracebacks import student_frames

    shown, looped = _collapsed(student_frames(exc.__traceback__, root), root)
    last = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    return f"Traceback (your files only):\n{shown}\n{last}", looped


def _stuck_loop(call: Call, root) -> str | None:
    """Where .delay() was when this check stopped waiting, if the student's fallback was calling
    itself over and over (each attempt to send fails again): their frames, the loop shown once.

    Such a fallback ends in a RecursionError, sooner or later: on a busy machine, later than
    GIVE_UP. Its stack tells the same either way."""
    root = Path(root).resolve()

    def theirs(frame) -> bool:
        try:
            Path(frame.filename).resolve().relative_to(root)
        except ValueError:
            return False
        return True

    shown, looped = _collapsed([f for f in call.stuck if theirs(f)], root)
    return f"Where it was (your files only):\n{shown}" if looped else None


def _collapsed(frames_in, root) -> tuple[str, bool]:
    """Frames as a traceback shows them, a line repeated over and over shown once; and whether
    a line was repeated more than three times."""
    from grader.harness.tracebacks import format_frames

    frames, runs = [], []
    for frame in frames_in:
        if frames and (frame.filename, frame.lineno) == (frames[-1].filename, frames[-1].lineno):
            runs[-1] += 1
        else:
            frames.append(frame)
            runs.append(1)
    lines = []
    for frame, count in zip(frames, runs):
        lines.append(format_frames([frame], root))
        if count > 1:
            lines.append(f"  [the same line {count - 1} more times]")
    return "\n".join(lines), max(runs, default=0) > 3


def _what_it_raised(call: Call) -> str:
    exc = call.error
    return f"{type(exc).__module__}.{type(exc).__name__}: {str(exc).strip()[:200]}"


def test_run_task_exists(project):
    """config/tasks.py defines run_task, a decorator for a task"""
    _run_task(project)


@needs(test_run_task_exists)
def test_broker_up_nothing_changes(probe, worker, published, fake):
    """With the broker up, .delay() still sends the task to a worker, as before"""
    marker = f"up-{fake.token(8)}"
    call = _call(probe, marker)
    expect(call.took is not None, f"With the broker up, .delay() had not returned after "
           f"{GIVE_UP:g} s.", "a message sent at once", lesson="#step-2-the-run_task-decorator")
    if call.error is not None:
        fail(f"With the broker up, .delay() raised {_what_it_raised(call)}.",
             "a message sent to the broker, as without run_task",
             lesson="#step-2-the-run_task-decorator")
    deadline = time.monotonic() + 5
    while not call.runs(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    here = [t for t in call.runs(marker) if t == call.thread]
    sent = [m for m in published.messages if m.task == probes["name"]]
    expect(not here, "With the broker up, .delay() ran the task right away in the calling "
           "process" + (", and sent it to the broker as well" if sent else ", and sent no "
           "message") + ": the fallback runs every time, not only when the broker is down.",
           "the task sent to a worker, and run there; run here only when sending fails",
           "Call the task's own apply_async() first, inside try:, and run the task only in "
           "the except branch.", lesson="#step-2-the-run_task-decorator")
    expect(sent, "With the broker up, .delay() published no message.",
           "one message, for a worker", lesson="#step-2-the-run_task-decorator")
    expect(call.runs(marker), "With the broker up, a message was sent, and the worker did not "
           "run the task within 5 s.", "the worker to run it",
           lesson="#step-2-the-run_task-decorator")
    loud = [r for r in _named(call) if r[0] >= logging.WARNING]
    expect(not loud, f"With the broker up, .delay() logged: {loud[0][2][:200]!r}." if loud
           else "", "no warning when all is well", lesson="#step-2-the-run_task-decorator")


LOOP_HINT = ("The fallback calls itself, over and over: calling .delay() or apply_async() "
             "again while the broker is down only fails again.")


def _judge_fallback(call: Call, marker: str, what: str, lesson: str, root) -> None:
    loop = _stuck_loop(call, root) if call.took is None else None
    if loop:
        fail(f"With {what}, .delay() had not returned after {GIVE_UP:g} s: sending failed, and "
             f"run_task's except branch sent the task again, and again.\n{loop}",
             "the except branch to run the task here: return task.apply(args, kwargs)",
             LOOP_HINT, lesson="#step-2-the-run_task-decorator")
    if call.took is None:
        fail(f"With {what}, .delay() had not returned after {GIVE_UP:g} s: sending keeps "
             "retrying, or waits for a connection that never comes, while the visitor waits.",
             f"sending to give up within {WITHIN:g} s, then the task run here",
             "Bound the wait in config/settings.py: CELERY_TASK_PUBLISH_RETRY_POLICY with a "
             "low max_retries, and socket_connect_timeout in CELERY_BROKER_TRANSPORT_OPTIONS"
             " (broker_connection_timeout is for RabbitMQ only).", lesson=lesson)
    if call.error is not None and _in_fallback(call.error, root):
        shown, looped = _fallback_traceback(call.error, root)
        fail(f"With {what}, sending failed, and then run_task's except branch raised in "
             f"turn:\n{shown}",
             "the except branch to run the task here: return task.apply(args, kwargs)",
             LOOP_HINT if looped else None,
             lesson="#step-2-the-run_task-decorator")
    if call.error is not None:
        exc = call.error
        fail(f"With {what}, .delay() raised {_what_it_raised(call)} after {call.took:.1f} s, "
             "and the task did not run.",
             "run_task to catch what Celery raises when it can't send, and run the task",
             f"Catch {type(exc).__module__}.{type(exc).__name__} as well: that is what your "
             "project raised here." if not isinstance(exc, (KeyboardInterrupt, SystemExit))
             else None, lesson="#what-delay-raises")
    here = [t for t in call.runs(marker) if t == call.thread]
    expect(here, f"With {what}, .delay() returned after {call.took:.1f} s without an error, "
           "and the task never ran: the failure was swallowed, and the work is lost.",
           "the task run right here, in the process that called .delay()",
           "In the except branch, run the task: return task.apply(args, kwargs).",
           lesson="#step-2-the-run_task-decorator")
    named = _named(call)
    warned = [r for r in named if r[0] >= logging.WARNING]
    if not warned:
        quiet = [r for r in named if r[0] < logging.WARNING]
        anything = [r for r in call.records if r[0] >= logging.WARNING
                    and not r[1].startswith(_THEIRS)]
        if quiet:
            seen = (f"it was logged at {logging.getLevelName(quiet[0][0])}: "
                    f"{quiet[0][2][:160]!r}")
        elif anything:
            seen = (f"the warning does not name the task ({probes['name']}): "
                    f"{anything[0][2][:160]!r}")
        elif probes["name"] in call.printed or probes["short"] in call.printed:
            seen = "it was printed, and print() is not a log: nobody's alerting sees it"
        elif any(probes["name"] in w or probes["short"] in w for w in call.warned):
            seen = ("it went to warnings.warn(), which is for programmers' mistakes, not a log "
                    "at WARNING: the server's logging, and its alerts, never see it")
        else:
            seen = "nothing was logged about it"
        fail(f"With {what}, the task ran here, and {seen}.",
             "a WARNING naming the task, e.g. logger.warning(\"...: running %s here\", "
             "task.name)", "Someone must learn that Redis is down and work runs in the web "
             "process: log it at WARNING, with the task's name.",
             lesson="#step-2-the-run_task-decorator")
    expect(call.took <= WITHIN, f"With {what}, the task ran here, but only after "
           f"{call.took:.1f} s: the visitor waits for all of Celery's attempts to send it.",
           f"sending to give up within {WITHIN:g} s",
           "Bound the wait in config/settings.py: CELERY_TASK_PUBLISH_RETRY_POLICY with a low "
           "max_retries and short intervals, and a socket_connect_timeout in "
           "CELERY_BROKER_TRANSPORT_OPTIONS.", lesson=lesson, timing=True)


@timed
@needs(test_broker_up_nothing_changes)
def test_broker_down_runs_here(project, probe, celery_app, fake):
    """With the broker unreachable, .delay() runs the task here within 2 s, with a WARNING"""
    for refused, what in ((True, "the broker stopped (connection refused)"),
                          (False, "the broker unreachable (connecting hangs)")):
        marker = f"down-{fake.token(8)}"
        with _redis_unreachable(celery_app, results_too=False, refused=refused):
            call = _call(probe, marker)
        _judge_fallback(call, marker, what, "#step-1-give-up-quickly", project.path)


@timed
@needs(test_broker_down_runs_here)
def test_whole_redis_down_runs_here(project, probe, celery_app, fake):
    """With all of Redis unreachable, results included, the same, within 2 s"""
    marker = f"gone-{fake.token(8)}"
    with _redis_unreachable(celery_app, results_too=True):
        call = _call(probe, marker)
    _judge_fallback(call, marker, "the whole Redis unreachable (the result backend too)",
                    "#the-result-backend-is-on-the-same-redis", project.path)

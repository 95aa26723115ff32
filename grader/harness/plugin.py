"""The harness as a pytest plugin: one run's broker and project, and results a student can read.

A checker is a pytest file. Each test is one check: its docstring's first line is what the
student reads, ``@needs(other_check)`` (from grader.harness) skips it with a reason when
``other_check`` did not pass, ``@timed`` marks a check whose verdict depends on a duration it
measures (its record then says ``"timed": true``), and a failure raised with
``fail(observed, expected, hint)`` becomes the report.
The fixtures checkers ask for are in ``fixtures.py``.

A checker may choose part of the project's environment itself: a module-level
``project_environment(fake)`` in its check.py returns a dict of variables, drawn from the run's
``Fake``, that is merged over the harness's own before Django starts (exercise 07 picks the
project's TIME_ZONE this way, since settings read it only once).

The run is configured by environment variables that ``python -m grader check`` sets:
GRADER_PROJECT, GRADER_BROKER, GRADER_SEED, GRADER_RESULTS_FD, GRADER_STACK_FILE,
GRADER_LIMIT, GRADER_LOAD_LIMIT, GRADER_CHECK_LIMIT and GRADER_DB_CACHE. Without them a checker
still runs under plain pytest, on starter_project/ with the embedded broker.
"""

from __future__ import annotations

import _hashlib
import faulthandler
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from celery.signals import after_task_publish

from .broker import BrokerUnreachable, open_broker
from .failures import CheckFailed, CheckTimedOut
from .fake import Fake
from .project import ProjectError, checker_environment, load_project
from .senders import from_celery, sealed
from .tracebacks import _inside, format_frames, student_frames, student_traceback
from .task_signals import Watch
from .tripwire import Tripwires

REPO = Path(__file__).resolve().parents[2]
LOADS_TITLE = "Your project loads: Django starts and the migrations run on a fresh database"


class _Run:
    """Everything one checker run shares: broker, project, seed, results."""

    def __init__(self):
        env = os.environ
        self.project_path = Path(env.get("GRADER_PROJECT") or REPO / "starter_project").resolve()
        self.broker_arg = env.get("GRADER_BROKER") or None
        self.seed = int(env.get("GRADER_SEED") or random.randrange(1, 100_000))
        self.load_limit = float(env.get("GRADER_LOAD_LIMIT") or 20)
        self.check_limit = float(env.get("GRADER_CHECK_LIMIT") or 20)
        self.limit = float(env.get("GRADER_LIMIT") or 90)
        self.started = time.monotonic()
        self.fake = Fake(self.seed)
        cache = env.get("GRADER_DB_CACHE", str(REPO / ".cache" / "migrated"))
        self.db_cache = Path(cache) if cache else None
        # The runner owns the scratch folder when there is one, so that it is removed even
        # when this process is killed.
        scratch = env.get("GRADER_SCRATCH")
        self._own_scratch = (None if scratch
                             else tempfile.TemporaryDirectory(prefix="encore-check-"))
        self.scratch = Path(scratch or self._own_scratch.name)
        self.broker = None
        self._broker_cm = None
        self.project = None
        self.unloadable: str | None = None
        self.outcomes: dict[str, str] = {}
        self.broken: dict[str, str] = {}
        # The results channel: read and removed from the environment before the project
        # loads, so that nothing the student's code can read names it (see tripwire.py).
        fd = env.pop("GRADER_RESULTS_FD", None)
        self._out = os.fdopen(int(fd), "w", buffering=1) if fd else None
        trip = env.pop("GRADER_TRIPWIRE_FD", None)
        own = [str(self.scratch)] + ([str(self.db_cache)] if self.db_cache else [])
        if self.scratch.parent == self.project_path.parent:  # grading: the run's own folder
            own.append(str(self.scratch.parent))
        wires = (Tripwires(int(trip), str(self.project_path), str(REPO), own)
                 if trip and self._out else None)
        self._sign = _signer(env.pop("GRADER_KEY_FD", None), wires)

    def emit(self, **record) -> None:
        if self._out:
            self._out.write(self._sign(record) + "\n")


def _signer(key_fd: str | None, wires: Tripwires | None):
    """What turns a record into a line of the results channel: ``sign(record) -> str``.

    With a key, each line carries a sequence number and an HMAC with the run's key, and the
    tripwires' own duties are done here too (the snapshot, what was replaced since, who is
    writing): student code that wraps or calls this function to have its own records signed is
    on the stack when it runs, and cannot switch the checks off, since the tripwires and the key
    live only in this generator's frame (reaching it sets off the audit hook). The key comes
    over a pipe that is read and closed here, before the project loads.
    """
    if not key_fd:
        return lambda record: json.dumps(record, default=str)
    key, chunk = b"", b"-"
    while chunk:
        chunk = os.read(int(key_fd), 256)
        key += chunk
    os.close(int(key_fd))
    signing = _signing(_hashlib.hmac_new(key, digestmod="sha256"), wires)
    next(signing)
    return signing.send


def _signing(mac, wires: Tripwires | None):
    counter, clock, dumps, getframe = itertools.count(), time.monotonic, json.dumps, sys._getframe
    emit = _Run.emit.__code__
    sent, told, heard, heard_from, connected = _sent, 0, _on_sent, after_task_publish, False
    line = None
    while True:
        record = yield line
        if record.get("event") in ("check", "end"):
            # The task messages Celery published (its after_task_publish) since the last
            # check: each must have crossed the broker (the keeper's witness holds them to it).
            # A view that "published" through Celery's own send_task_message with a producer
            # that sends nothing was heard as a publication, and passed.
            with _sent_lock:
                pairs = sent()
            record["sent"] = [list(pair) for pair in pairs[told:told + 500]]
            told = len(pairs)
            now = any(r is heard for _, r in list(heard_from.receivers)) and (
                "send" not in vars(heard_from))
            if wires and connected and not now:
                wires.report("tampered", "the grader no longer hears what Celery publishes "
                             "(its after_task_publish receiver was removed)")
            connected = connected or now
        if wires:
            caller = getframe(1)
            if caller.f_code is not emit:
                wires.report("tampered", "a record was signed by code other than the harness's "
                             "emit", wires.where(caller))
            wires.guard(caller)
            if record.get("phase") == "loading your project":
                wires.take_snapshot(record.pop("_items", ()))
            elif record.get("event") in ("check", "end"):
                wires.tampered()
            if record.get("event") == "end":
                record["tripwires"] = wires.alive()
        # "t": this machine's monotonic clock, which the parent's broker witness shares.
        text = f'{{"seq": {next(counter)}, "t": {clock()!r}, {dumps(record, default=str)[1:]}'
        digest = mac.copy()
        digest.update(text.encode())
        line = digest.hexdigest() + " " + text


_run: _Run | None = None
_watch: Watch | None = None  # what the project's tasks did, from Celery's signals


@from_celery
def _on_sent(sender=None, body=None, headers=None, **_):
    """Celery's after_task_publish: a task message was handed to the broker."""
    headers = headers if isinstance(headers, dict) else {}
    task, ident = headers.get("task"), headers.get("id")
    if not ident and isinstance(body, dict):  # protocol 1: the body holds them
        task, ident = body.get("task"), body.get("id")
    with _sent_lock:
        _sent((str(task or sender or ""), str(ident or "")))


# ("task name", "task id") of every message Celery published: only _on_sent adds.
_sent = sealed(_on_sent, heard=True)
_sent_lock = threading.Lock()


def pytest_configure(config):
    global _run
    from . import fixtures

    config.addinivalue_line("markers", "needs(*checks): skip unless these checks passed")
    config.addinivalue_line("markers", "limit(seconds): this check's time limit")
    config.addinivalue_line("markers", "timed: this check's verdict depends on a duration it "
                            "measures (see grader.harness.timed)")
    config.addinivalue_line("markers", "guard: this check already passes before the exercise: "
                            "no points (see grader.harness.guard)")
    config.pluginmanager.register(fixtures, "grader.harness.fixtures")
    # pytest sets and deletes os.environ["PYTEST_CURRENT_TEST"] around every phase of a check,
    # while the worker thread may be reading the environment (a KeyError on the worker, once
    # in a while): the variable tells nobody anything here.
    import _pytest.runner
    _pytest.runner._update_current_test_var = lambda item, when: None
    _run = _Run()


def pytest_report_header(config):
    return f"encore checker: project {_run.project_path}, seed {_run.seed}"


def _lesson_for(item) -> str:
    folder = item.path.parent.name
    return f"lessons/{folder}.md"


def _title(item) -> str:
    doc = (item.function.__doc__ or item.name).strip()
    return doc.splitlines()[0].strip()


_stack_handle = None


def _arm_deadline(seconds: float) -> None:
    """If the run is still going after ``seconds``, write every thread's stack and end it.

    faulthandler's watchdog is a C thread: it fires even when Python code is stuck.
    """
    global _stack_handle
    _disarm_deadline()
    stack_file = os.environ.get("GRADER_STACK_FILE")
    _stack_handle = open(stack_file, "w") if stack_file else None
    faulthandler.dump_traceback_later(max(seconds, 1), exit=True, file=_stack_handle or 2)


def _disarm_deadline() -> None:
    global _stack_handle
    faulthandler.cancel_dump_traceback_later()
    if _stack_handle:
        _stack_handle.close()
        _stack_handle = None


def pytest_collectreport(report):
    if report.failed:
        _run.emit(event="check", id="collect", title="The checker loads", status="error",
                  observed="The checker itself could not be loaded: this is a bug in the "
                  "workshop, not in your code. Please report it with the details below.",
                  details=str(report.longrepr)[-3000:])


def pytest_collection_finish(session):
    """Start the broker and load the project once the checks are known."""
    run = _run
    started = time.monotonic()
    run.emit(event="start", project=str(run.project_path), seed=run.seed)
    try:
        run._broker_cm = open_broker(run.broker_arg)
        run.broker = run._broker_cm.__enter__()
    except BrokerUnreachable as exc:
        run._broker_cm = None
        run.unloadable = "the broker did not answer (see above)"
        run.emit(event="check", id="broker", title="The broker answers", status="failed",
                 observed=str(exc), expected="a Redis server that answers PING",
                 hint=exc.hint, duration=time.monotonic() - started)
        return
    run.emit(event="broker", url=run.broker.url, label=run.broker.label)
    global _watch
    _watch = Watch(run.project_path)  # before the tripwires' snapshot, which holds it
    after_task_publish.connect(_on_sent, weak=False)
    # (The items go to the tripwires' snapshot: what each check runs must not change.)
    run.emit(event="phase", phase="loading your project", _items=list(session.items))
    env = {**checker_environment(run.broker.url, run.scratch, run.seed),
           **_chosen_by_checkers(session)}
    try:
        _arm_deadline(run.load_limit)
        run.project = load_project(run.project_path, env, run.scratch, run.db_cache)
    except ProjectError as exc:
        run.unloadable = "the project did not load (see above)"
        run.emit(event="check", id="loads", title=LOADS_TITLE, status="error",
                 observed=exc.message, details=exc.details, duration=time.monotonic() - started)
        return
    finally:
        _disarm_deadline()
    run.emit(event="check", id="loads", title=LOADS_TITLE, status="passed",
             duration=time.monotonic() - started)
    _watch.connect()
    _arm_deadline(run.limit - (time.monotonic() - run.started) - 2)


def _chosen_by_checkers(session) -> dict[str, str]:
    """The variables the collected checkers' ``project_environment(fake)`` functions return."""
    chosen = {}
    for module in dict.fromkeys(getattr(item, "module", None) for item in session.items):
        choose = getattr(module, "project_environment", None)
        if callable(choose):
            chosen.update({name: str(value) for name, value in choose(_run.fake).items()})
    return chosen


def pytest_sessionfinish(session, exitstatus):
    run = _run
    _disarm_deadline()
    if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        run.emit(event="check", id="internal", title="The checker runs", status="error",
                 observed="The checker itself failed: this is a bug in the workshop, not in "
                 "your code. Please report it, with the output of this command.")
    if run._broker_cm is not None:
        run._broker_cm.__exit__(None, None, None)
    _end(int(exitstatus))


def _end(status: int) -> None:
    """Say the run is over; with a results pipe, end the process at once."""
    run = _run
    run.emit(event="end")
    if run._out:
        # Everything is reported: end now rather than wait for the interpreter to wind down
        # threads and sockets (half a second, every run).
        if run._own_scratch:
            run._own_scratch.cleanup()
        sys.stdout.flush()
        sys.stderr.flush()
        run._out.flush()
        os._exit(status)


# -- running one check ------------------------------------------------------------------------

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    run = _run
    if run.unloadable:
        pytest.skip(f"cannot run: {run.unloadable}")
    for mark in item.iter_markers("needs"):
        for check in mark.args:
            if run.outcomes.get(check.__name__) != "passed":
                title = (check.__doc__ or check.__name__).strip().splitlines()[0]
                pytest.skip(f'needs "{title}" to pass first')
    for name in item.fixturenames:
        if name in run.broken:
            pytest.skip(f"cannot run: {run.broken[name]}")


def _on_alarm(signum, frame):
    raise CheckTimedOut()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    run = _run
    run.emit(event="phase", phase=f"checking: {_title(item)}")
    if _watch:
        _watch.reset()
    limit = next((m.args[0] for m in item.iter_markers("limit")), run.check_limit)
    item.stash[_REPORTS] = []
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    item.stash[_TIMING] = (time.monotonic(), limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    _report_check(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """After the last check, report it and end the run before anything winds down.

    Stopping the worker and the broker and undoing fixtures changes no result, and takes
    about 50 ms of every run. (Under plain pytest, without a results pipe, nothing changes.)
    """
    run = _run
    if nextitem is None and run._out:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _report_check(item)
        _end(1 if any(s in ("failed", "error", "timed out") for s in run.outcomes.values())
             else 0)


def _report_check(item) -> None:
    """Emit the check record of ``item``, once."""
    run = _run
    if item.stash.get(_REPORTED, False):
        return
    item.stash[_REPORTED] = True
    started, limit = item.stash[_TIMING]
    record = _record(item, item.stash[_REPORTS], limit)
    record["duration"] = time.monotonic() - started
    broken = record.pop("fixture", None)
    if broken:
        # What broke is the project's set-up, not this check: report it once, on its own line.
        from .fixtures import FIXTURE_TITLES
        record.pop("timed", None)
        run.emit(event="check", **{**record, "id": broken, "title": FIXTURE_TITLES[broken]})
        record = {"id": item.name, "title": record["title"], "status": "skipped",
                  "observed": f"cannot run: {run.broken[broken]}", "duration": 0}
    run.outcomes[item.name] = record["status"]
    run.emit(event="check", **record)


_REPORTS = pytest.StashKey[list]()
_TIMING = pytest.StashKey[tuple]()  # (when the check started, its time limit)
_REPORTED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    item.stash[_REPORTS].append((report, call.excinfo))
    # pytest's own outcome of each phase, on the channel the moment it is known: the check's
    # record is built later from objects the project's threads could reach (the reports, the
    # item), and the parent holds it to these (grade/verdict.py).
    _run.emit(event="report", id=item.name, when=report.when, outcome=report.outcome)


def _record(item, reports, limit) -> dict:
    record = {"id": item.name, "title": _title(item), "status": "passed"}
    for report, excinfo in reports:
        if report.skipped and excinfo is not None:
            reason = excinfo.value.msg if hasattr(excinfo.value, "msg") else str(excinfo.value)
            record.update(status="skipped", observed=reason)
            break
        if report.failed and excinfo is not None:
            record.update(_explain(excinfo.value, item, limit))
            break
    if _watch:
        record = _watch.judge(record)
        if _watch.eager_reported:
            # Later checks that need the app skip instead of all saying the same again.
            _run.broken.setdefault("celery_app", "eager mode was switched on (see above)")
    if record["status"] != "passed":
        record["lesson"] = _lesson_link(item, record.get("lesson"))
    if item.get_closest_marker("timed"):
        record["timed"] = True
    if item.get_closest_marker("guard"):
        record["guard"] = True
    return record


def _lesson_link(item, lesson: str | None) -> str:
    if not lesson:
        return _lesson_for(item)
    if lesson.startswith("#"):
        return _lesson_for(item) + lesson
    return lesson if lesson.startswith("lessons/") else f"lessons/{lesson}"


def _explain(exc: BaseException, item, limit: float) -> dict:
    root = _run.project_path
    if isinstance(exc, CheckFailed):
        return {"status": "failed", "observed": exc.observed, "expected": exc.expected,
                "hint": exc.hint, "lesson": exc.lesson, "fixture": getattr(exc, "fixture", None),
                "timing": bool(exc.timing)}
    if isinstance(exc, CheckTimedOut):
        frames = student_frames(exc.__traceback__, root)
        where = (f" It was running this code of yours:\n{format_frames(frames[-3:], root)}"
                 if frames else "")
        return {"status": "timed out",
                "observed": f"This check was still running after its {limit:g} s limit.{where}",
                "expected": "every step to finish well inside the limit",
                "hint": "Look for a loop that never ends or a call that waits forever."}
    if isinstance(exc, AssertionError):
        return {"status": "failed", "observed": str(exc) or "an assertion failed",
                "expected": "(see the check's title)"}
    frames = student_frames(exc.__traceback__, root)
    if frames:
        return {"status": "error", "observed": "Your code raised an exception.",
                "details": student_traceback(exc, root)}
    if isinstance(exc, SyntaxError) and _inside(exc.filename or "", root.resolve()):
        # Raised while compiling a file of the student's: no frame of theirs ran yet.
        return {"status": "error", "observed": "A file of your project has a syntax error.",
                "details": student_traceback(exc, root)}
    return {"status": "error", "observed": "The checker itself failed: this is a bug in the "
            "workshop, not in your code. Please report it with the details below.",
            "details": student_traceback(exc, root)}

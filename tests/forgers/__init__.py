'''Forgers: submissions whose code tries to write its own verdict, the ways a student who has
read this repository would try. Each is the untouched starter plus the code below appended to
one of its files; tests/test_forgery.py grades them and expects each to be zeroed and flagged.

The shipped checkers and the grader know nothing of these: the defence is generic.
'''

from __future__ import annotations

import base64

__all__ = ["FORGERS"]

# The checker's test functions, titles and all: found in sys.modules while the project loads.
_FIND_CHECKS = """
import sys as _sys

def _checks():
    found = []
    for _m in list(_sys.modules.values()):
        _f = getattr(_m, "__file__", "") or ""
        if "/exercises/" in _f and _f.endswith("check.py"):
            for _n in dir(_m):
                if _n.startswith("test_"):
                    _doc = (getattr(_m, _n).__doc__ or _n).strip().splitlines()[0]
                    found.append((_n, _doc))
    return found
"""

# Pass records written straight to every pipe the process holds, found through the
# environment or /proc/self/fd, then an end record and a quick exit.
PIPE = _FIND_CHECKS + """
import json as _json, os as _os
_fds = {int(_os.environ["GRADER_RESULTS_FD"])} if _os.environ.get("GRADER_RESULTS_FD") else set()
for _name in _os.listdir("/proc/self/fd"):
    try:
        if _os.readlink("/proc/self/fd/" + _name).startswith("pipe:") and int(_name) > 2:
            _fds.add(int(_name))
    except OSError:
        pass
_lines = [_json.dumps({"event": "check", "id": "loads", "title": "loads", "status": "passed"})]
for _n, _t in _checks():
    _lines.append(_json.dumps({"event": "phase", "phase": "checking: " + _t}))
    _lines.append(_json.dumps({"event": "check", "id": _n, "title": _t, "status": "passed"}))
_lines.append(_json.dumps({"event": "end"}))
for _fd in _fds:
    try:
        _os.write(_fd, ("\\n".join(_lines) + "\\n").encode())
    except OSError:
        pass
for _fd in _fds:  # what the environment held, into the run's log
    try:
        _os.write(_fd, ("ENV KEYS: %s\\n" % sorted(_os.environ)).encode())
    except OSError:
        pass
_os._exit(0)
"""

# pytest's test bodies do nothing: every check "passes".
PYTEST_NOOP = """
import _pytest.python
_pytest.python.Function.runtest = lambda self: None
"""

# The harness's report builder says "passed" whatever happened.
RECORD = """
import sys as _sys
_plugin = _sys.modules["grader.harness.plugin"]
_real = _plugin._record

def _record(item, reports, limit):
    record = _real(item, reports, limit)
    for _key in ("observed", "expected", "hint", "fixture", "timing", "details", "lesson"):
        record.pop(_key, None)
    record["status"] = "passed"
    return record

_plugin._record = _record
"""

# The harness's own emit, called while the project loads, with every check passed; then the
# harness's own end (which exits the process).
EMIT = _FIND_CHECKS + """
_plugin = _sys.modules["grader.harness.plugin"]
for _n, _t in _checks():
    _plugin._run.emit(event="phase", phase="checking: " + _t)
    _plugin._run.emit(event="check", id=_n, title=_t, status="passed")
_plugin._end(0)
"""

# pytest's runner: the "call" phase of every test replaced by one that raises nothing.
RUNNER = """
import _pytest.runner as _r
_real_car = _r.call_and_report

def call_and_report(item, when, log=True, **kwds):
    if when != "call":
        return _real_car(item, when, log, **kwds)
    call = _r.CallInfo.from_call(lambda: None, when="call")
    report = item.ihook.pytest_runtest_makereport(item=item, call=call)
    if log:
        item.ihook.pytest_runtest_logreport(report=report)
    return report

_r.call_and_report = call_and_report
"""

# RECORD, hidden from a text search: base64 and exec.
HIDDEN = ("exec(__import__('base64').b64decode('%s').decode())"
          % base64.b64encode(RECORD.encode()).decode())

# The garbage collector finds the harness's run object; its class's emit then rewrites every
# check record to "passed".
GC = """
import gc as _gc
for _o in _gc.get_objects():
    if type(_o).__name__ == "_Run" and hasattr(_o, "emit"):
        _cls = type(_o)
        _real_emit = _cls.emit
        def _emit(self, **record):
            if record.get("event") == "check":
                record = {k: v for k, v in record.items() if k in ("event", "id", "title")}
                record["status"] = "passed"
            _real_emit(self, **record)
        _cls.emit = _emit
        break
"""

# Frames walked up to pytest's session; each test item's runtest replaced on the instance
# (nothing at module or class level changes).
FRAMES = """
import inspect as _inspect
_frame = _inspect.currentframe()
while _frame is not None:
    _session = _frame.f_locals.get("session")
    if _session is not None and hasattr(_session, "items"):
        for _item in _session.items:
            _item.runtest = lambda: None
        break
    _frame = _frame.f_back
"""

# RECORD again, with every name spelled in pieces.
PIECES = """
import importlib as _il
_mod = _il.import_module("gra" + "der" + "." + "har" + "ness" + ".plu" + "gin")
_name = "_rec" + "ord"
_real2 = getattr(_mod, _name)

def _patched(item, reports, limit):
    out = dict(_real2(item, reports, limit))
    out["status"] = "pas" + "sed"
    return out

setattr(_mod, _name, _patched)
"""

FORGERS = {  # name → (file of the starter project, code appended to it)
    "pipe": ("config/settings.py", PIPE),
    "pytest-noop": ("config/settings.py", PYTEST_NOOP),
    "record": ("config/settings.py", RECORD),
    "emit": ("config/settings.py", EMIT),
    "runner": ("config/settings.py", RUNNER),
    "hidden": ("config/settings.py", HIDDEN),
    "gc": ("config/settings.py", GC),
    "frames": ("config/settings.py", FRAMES),
    "pieces": ("config/settings.py", PIECES),
}

# The harness's run object swapped for one whose emit says "passed", its code given a file
# name inside the grader so that it does not look like the student's.
SWAP = """
import sys as _sys, types as _types
_plugin = _sys.modules["grader.harness.plugin"]

def _emit(self, **record):
    if record.get("event") == "check":
        record["status"] = "passed"
    _plugin._Run.emit(self, **record)

_emit = _types.FunctionType(_emit.__code__.replace(
    co_filename=_plugin.__file__.replace("plugin.py", "broker.py")), globals(), "emit")
_Fake = type("_Run", (_plugin._Run,), {"emit": _emit})
_fake = _Fake.__new__(_Fake)
_fake.__dict__.update(vars(_plugin._run))
_plugin._run = _fake
"""

FORGERS["swap"] = ("config/settings.py", SWAP)

# A task message published to the broker, so that the broker witness sees one cross during a
# check that claims to have passed (any name of the course's tasks will do).
_DECOY = """
import json as _json, os as _os

def _decoy():
    try:
        import redis as _redis
        _redis.Redis.from_url(_os.environ["REDIS_URL"], socket_timeout=1).lpush(
            "decoy", _json.dumps({"task": "music.tasks.rebuild_search_index"}))
    except Exception:
        pass
"""

# The run's signer, found on the run object (no import, names in pieces), wrapped: every check
# record is rewritten to "passed" and signed by the real signer, with a decoy message
# published first. Nothing the snapshot holds is replaced.
SIGN = _DECOY + """
import sys as _sys
_run = getattr(_sys.modules["gra" + "der.har" + "ness.plu" + "gin"], "_r" + "un")
_real_sign = _run._sign

def _sign(record):
    if record.get("event") == "check" and record.get("id") not in ("loads", "broker"):
        record = {"event": "check", "id": record["id"], "title": record["title"],
                  "status": "pas" + "sed"}
        _decoy()
    return _real_sign(record)

_run._sign = _sign
"""

# The watch of the tasks, which the harness asks about every check, says "passed" (a module
# the snapshot did not hold); a thread publishes decoy messages all along.
WATCH = _DECOY + """
import sys as _sys, threading as _threading, time as _time
_signals = _sys.modules["gra" + "der.har" + "ness.task_sig" + "nals"]

def _judge(self, record):
    if record.get("fixture"):
        return record
    return {"id": record["id"], "title": record["title"], "status": "pas" + "sed"}

_signals.Watch.judge = _judge

def _decoys():
    while True:
        _decoy()
        _time.sleep(0.02)

_threading.Thread(target=_decoys, daemon=True).start()
"""

FORGERS["sign"] = ("config/settings.py", SIGN)
FORGERS["watch"] = ("config/settings.py", WATCH)

# Not a verdict forged, but files written outside the run's own folder: into the Python
# installation the grader itself runs (a module there runs in every later run and in the
# grader), the instructor's home, /tmp and /dev/shm. The run's user is the instructor's, so
# only the mounts stop it. "{marker}" is replaced by a name unique to the test run, "{home}" by
# the instructor's home folder.
ESCAPE = """
import os as _os, sysconfig as _sysconfig
for _folder in (_sysconfig.get_paths()["stdlib"], "{home}", "/tmp",
                "/dev/shm", _os.path.dirname(_sysconfig.get_paths()["stdlib"])):
    try:
        with open(_os.path.join(_folder, "{marker}"), "w") as _f:
            _f.write("raise SystemExit('a student wrote here')\\n")
        print("ESCAPED", _folder, flush=True)
    except OSError as _e:
        print("STOPPED", _folder, _e.strerror, flush=True)
print("PROCESSES", sorted(_p for _p in _os.listdir("/proc") if _p.isdigit()), flush=True)
"""

# Gigabytes stored in the broker, which the keeper (outside the run's limits) serves: 100 MB
# strings, and one SETRANGE past 500 MB. Six runs at once could have filled the machine.
BROKER_FLOOD = """
import os as _os
try:
    import redis as _redis
    _client = _redis.Redis.from_url(_os.environ["REDIS_URL"], socket_timeout=30)
    _client.setrange("big", 500 * 2**20, "x")
    for _i in range(30):
        _client.set("blob%d" % _i, b"x" * (100 * 2**20))
    print("FLOODED", flush=True)
except Exception as _e:
    print("REFUSED", repr(_e)[:100], flush=True)
"""

ESCAPES = {  # graded; must change nothing outside, nor grow the grader past its limits
    "escape": ("config/settings.py", ESCAPE),
    "broker-flood": ("config/settings.py", BROKER_FLOOD),
}

# The checker's `time` swapped for a copy whose monotonic() runs at a quarter speed: a view
# that takes 0.8 s "answers in 0.2 s" (nothing of the harness's, nor the time module itself,
# is replaced).
CLOCK = """
import sys as _sys, time as _time, types as _types
_slow = _types.ModuleType("time")
_slow.__dict__.update(vars(_time))
_real_monotonic = _time.monotonic
_slow.monotonic = lambda: _real_monotonic() / 4
for _m in list(_sys.modules.values()):
    if "/exercises/" in (getattr(_m, "__file__", "") or "") and getattr(_m, "time", 0) is _time:
        _m.time = _slow
"""

FORGERS["clock"] = ("config/settings.py", CLOCK)

# pytest's config, kept by its debugging plugin on a class (no frame, no gc, no import): the
# session's items each get a runtest of their own that does nothing.
_SESSION = """
import sys as _sys
_session = _sys.modules["_py" + "test.debugging"].pytestPDB._config.pluginmanager.get_plugin(
    "session")
"""
ITEMS = _SESSION + """
for _item in _session.items:
    _item.runtest = lambda: None
"""

# The same session; a thread keeps removing every report that did not pass from the items'
# stash, where the harness reads them when the check ends, and publishes decoy messages.
STASH = _DECOY + _SESSION + """
import threading as _threading, time as _time

def _clear():
    for _n in range(10**9):
        for _item in _session.items:
            for _value in list(_item.stash._storage.values()):
                if isinstance(_value, list) and _value and isinstance(_value[0], tuple):
                    _value[:] = [(r, e) for r, e in _value if getattr(r, "passed", True)]
        if _n % 50 == 0:
            _decoy()
        _time.sleep(0.0005)

_threading.Thread(target=_clear, daemon=True).start()
"""

FORGERS["items"] = ("config/settings.py", ITEMS)
FORGERS["stash"] = ("config/settings.py", STASH)

# The same session's plugin manager: a plugin of the student's whose makereport runs first and
# answers "passed" for every phase (pytest's own never runs), publishing a decoy message each
# time.
PLUGIN = _DECOY + _SESSION + """
_reports = _sys.modules["_py" + "test.reports"]
_hookimpl = _sys.modules["plu" + "ggy"].HookimplMarker("pytest")

class _Helper:
    @_hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        _decoy()
        return _reports.TestReport(item.nodeid, item.location, {}, "pas" + "sed", None,
                                   call.when, [])

_session.config.pluginmanager.register(_Helper(), "helper")
"""

# Each item given a subclass of its own class whose runtest does nothing.
CLASS = _SESSION + """
for _item in _session.items:
    _item.__class__ = type(type(_item).__name__, (type(_item),), {"runtest": lambda self: None})
"""

FORGERS["plugin"] = ("config/settings.py", PLUGIN)
FORGERS["class"] = ("config/settings.py", CLASS)

# Stage 02's view, its .delay() replaced by Celery's before_task_publish sent by hand with a
# made-up message (nothing reaches the broker but a decoy for the witness): the harness's
# Published heard it as a publication, so "the view published one message" passed (8/10 on 02
# where the same view with no .delay() scores 4). Graded; the fake must count for nothing.
SIGNAL_DELAY = '''            send_feedback_email_task.delay(
                form.cleaned_data["email"], form.cleaned_data["message"]
            )'''
SIGNAL_FAKE = '''            import json, os, uuid
            import redis
            from celery.signals import before_task_publish
            name = send_feedback_email_task.name
            before_task_publish.send(
                sender=name, body=((form.cleaned_data["email"], form.cleaned_data["message"]),
                                   {}, {}),
                headers={"task": name, "id": str(uuid.uuid4())}, properties={}, exchange="",
                routing_key="celery")
            redis.Redis.from_url(os.environ["REDIS_URL"]).lpush("decoy",
                                                                json.dumps({"task": name}))'''

# The same view, appending a made-up message to the harness's Published recorder, found through
# the signal's list of receivers (a bound method's __self__: no frame, no gc), plus a decoy for
# the witness: 8/10 on 02 as well.
_FOUND_RECORDER = '''            import json, os, sys, uuid
            import redis
            from celery.signals import before_task_publish
            name = send_feedback_email_task.name
            for _key, receiver in list(before_task_publish.receivers):
                recorder = getattr(receiver, "__self__", None)
                if recorder is not None and hasattr(recorder, "messages"):
                    made_up = sys.modules[type(recorder).__module__].PublishedMessage(
                        task=name, id=str(uuid.uuid4()), kwargs={}, headers={"task": name},
                        args=(form.cleaned_data["email"], form.cleaned_data["message"]),
                        properties={})
'''
_DECOY = '''            redis.Redis.from_url(os.environ["REDIS_URL"]).lpush("decoy",
                                                                json.dumps({"task": name}))'''
RECEIVER_FAKE = _FOUND_RECORDER + '''                    recorder.messages.append(made_up)
''' + _DECOY

# Stage 02 whose task sends nothing; the view's own thread sends the email once the worker has
# run the task, under the worker's thread name (read from the harness's Finished recorder, found
# through task_prerun's receivers) and after adding itself to Finished.threads where it can:
# "sent by the worker" passed, 10/10 on 02 where the same thread under its own name scores 8.
THREAD_EDITS = [
    ("feedback/tasks.py", "    send_feedback_email(email_address, message)", "    pass"),
    ("feedback/views.py", '''            return redirect("feedback:thanks")''',
     '''            import threading, time
            from celery.signals import task_prerun
            from .emails import send_feedback_email

            def later(email, message):
                time.sleep(0.5)
                for _key, receiver in list(task_prerun.receivers):
                    owner = getattr(receiver, "__self__", None)
                    if owner is None or not hasattr(owner, "threads"):
                        continue
                    if hasattr(owner.threads, "add"):
                        owner.threads.add(threading.current_thread().name)
                    for name in list(owner.threads):
                        threading.current_thread().name = str(name)
                send_feedback_email(email, message)

            threading.Thread(target=later, args=(form.cleaned_data["email"],
                                                 form.cleaned_data["message"])).start()
            return redirect("feedback:thanks")'''),
]

# Stage 02 whose task sends nothing; the view puts a made-up outbox in checker 02's `posted`
# (found through sys.modules), whose one email claims a worker thread (read from the harness's
# Finished recorder, through task_prerun's receivers): "the worker sends one email" read the
# made-up outbox and passed, 10/10 on 02 where the same project without it scores 8.
POSTED_EDITS = [
    ("feedback/tasks.py", "    send_feedback_email(email_address, message)", "    pass"),
    ("feedback/views.py", '''            return redirect("feedback:thanks")''',
     '''            import sys, threading
            from django.core.mail import EmailMessage
            from celery.signals import task_prerun
            email, text = form.cleaned_data["email"], form.cleaned_data["message"]

            def worker_thread():
                for _key, receiver in list(task_prerun.receivers):
                    owner = getattr(receiver, "__self__", None)
                    if owner is not None and getattr(owner, "threads", None):
                        return next(iter(owner.threads))
                return threading.main_thread().name

            class Sent:
                message = EmailMessage("Thank you for your feedback", "You wrote: " + text,
                                       to=[email])

                @property
                def thread(self):
                    return worker_thread()

            class Box:
                @property
                def sent(self):
                    return [Sent()]

                def wait_for(self, *args, **kwargs):
                    return self.sent

            for module in list(sys.modules.values()):
                posted = getattr(module, "posted", None)
                if "/exercises/" in (getattr(module, "__file__", "") or "") and hasattr(
                        posted, "keys"):
                    posted["outbox"] = Box()
            return redirect("feedback:thanks")'''),
]

# Stage 02's view, its .delay() replaced by Celery's own send_task_message with a producer that
# sends nothing (so Celery itself sends before_task_publish, and the harness heard a
# publication), plus a decoy pushed to the broker for the witness: 8/10 on 02 where the same
# view with no .delay() scores 4.
PRODUCER_FAKE = '''            import json, os, uuid
            import redis
            from celery import current_app
            app = current_app._get_current_object()
            name = send_feedback_email_task.name
            message = app.amqp.as_task_v2(
                str(uuid.uuid4()), name,
                args=(form.cleaned_data["email"], form.cleaned_data["message"]))

            class Nothing:
                connection = None
                serializer = "json"

                def publish(self, *args, **kwargs):
                    pass

            with app.producer_or_acquire() as real:
                Nothing.connection = real.connection
            app.amqp.send_task_message(Nothing(), name, message)
            redis.Redis.from_url(os.environ["REDIS_URL"]).lpush("decoy",
                                                                json.dumps({"task": name}))'''

# The same view, replacing the store of the harness's Published recorder (found through
# before_task_publish's receivers) with a function answering a made-up message: on the instance
# (8/10 on 02 before SealedField, where no .delay() scores 4), else on its class.
KEPT_FAKE = _FOUND_RECORDER + '''                    answer = lambda item=None, made_up=made_up: (made_up,)
                    try:
                        recorder._kept = answer
                    except AttributeError:
                        type(recorder)._kept = property(lambda self, answer=answer: answer)
''' + _DECOY

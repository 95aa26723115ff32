"""`make doctor`: what is wrong with a student's running stack, one line each, with the fix.

It looks at the real thing: the broker the student's project uses (grader/local_broker.py),
the project's Celery app as Django loads it, and the workers that answer on that broker. It
reads; it never purges, flushes or sends a task. Every question has a deadline (1 s each).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .harness.broker import BrokerUnreachable, ping, redact
from .local_broker import NO_ANSWER, START_A_BROKER, stack_broker
from .queues import look

__all__ = ["Finding", "diagnose", "render"]

ASK = 1.0  # seconds to wait for workers to answer a remote-control question
L00, L01, L02 = ("lessons/00-setup.md", "lessons/01-celery-app.md",
                 "lessons/02-offload-feedback-email.md")
L06 = "lessons/06-beat-interval.md"


@dataclass
class Finding:
    ok: bool | None  # True fine, False a problem, None a note
    text: str
    fix: str = ""
    lesson: str = ""


def _db(url: str) -> str:
    return urlsplit(url).path.strip("/") or "0"


def _same_broker(a: str, b: str) -> bool:
    def key(url):
        parts = urlsplit(url)
        host = {"localhost": "127.0.0.1", "": "127.0.0.1"}.get(parts.hostname or "",
                                                               parts.hostname)
        return parts.scheme, host, parts.port or 6379, _db(url)
    return key(a) == key(b)


def _load(project: Path, url: str, where: str):
    """Start Django on the project as its own processes would; (app, None) or (None, Finding)."""
    if where.startswith("the embedded broker"):
        os.environ["REDIS_URL"] = url  # what `make run` hands its children
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(project))
    try:
        import django
        django.setup()
    except Exception as exc:
        from .harness.tracebacks import student_traceback
        return None, Finding(False, "Django cannot start your project.",
                             student_traceback(exc, project), L00)
    import config
    app = getattr(config, "celery_app", None)
    if app is None:
        return None, Finding(None, "Your project has no Celery app yet (config.celery_app).",
                             "Exercise 01 adds it.", L01)
    return app, None


def _namespace(app) -> list[Finding]:
    from django.conf import settings
    names = [n for n in dir(settings) if n.startswith("CELERY_")]
    prefix = getattr(app, "namespace", None)
    if not names:
        return [Finding(None, "Your settings have no CELERY_ setting yet.")]
    key = "CELERY_BROKER_URL" if "CELERY_BROKER_URL" in names else names[0]
    wanted = getattr(settings, key)
    if app.conf.get(key[len("CELERY_"):].lower()) == wanted:
        return [Finding(True, f'The Celery app reads your CELERY_ settings (namespace "{prefix}").')]
    return [Finding(False, f"The Celery app does not read your CELERY_ settings: {key} is "
                           f"{redact(str(wanted))}, and the app's "
                           f"{key[len('CELERY_'):].lower()} is "
                           f"{redact(str(app.conf.get(key[len('CELERY_'):].lower())))}. "
                           f"The app reads the namespace {prefix!r}.",
                    'config_from_object("django.conf:settings", namespace="CELERY") in '
                    "config/celery.py, so each CELERY_X setting sets Celery's x.",
                    L01)]


def _broker_findings(app, url: str, where: str) -> list[Finding]:
    used = app.conf.broker_url or ""
    found = []
    if not _same_broker(used, url):
        found.append(Finding(False, f"Your Celery app's broker is {redact(used)}, while "
                                    f"{where} names {redact(url)}.",
                             "Derive CELERY_BROKER_URL and CELERY_RESULT_BACKEND from REDIS_URL "
                             "in settings.py, and don't set them anywhere else (.env, "
                             "Celery(broker=...)).", L01))
    if app.conf.task_always_eager:
        found.append(Finding(False, "Eager mode is on (task_always_eager): .delay() runs the "
                                    "task inside the request, and no worker ever sees it.",
                             "Remove CELERY_TASK_ALWAYS_EAGER from your settings.", L02))
    return found


def _other_databases(url: str) -> list[str]:
    """Other databases of the same Redis where a worker has been listening (read only)."""
    seen = []
    for db in range(16):
        if str(db) == _db(url):
            continue
        try:
            other = ping(urlunsplit(urlsplit(url)._replace(path=f"/{db}")))
        except BrokerUnreachable:
            break  # a server with fewer databases, or one that refuses SELECT
        try:
            members = other.smembers("_kombu.binding.celery.pidbox")
        finally:
            other.close()
        names = {m.decode(errors="replace").split("\x06\x16")[-1].removesuffix(".celery.pidbox")
                 for m in members}
        if names:
            seen.append(f"database {db} ({', '.join(sorted(names)[:3])})")
    return seen


def _workers(app, url: str) -> tuple[list[Finding], dict]:
    replies = app.control.ping(timeout=ASK) or []
    names = sorted(name for reply in replies for name in reply)
    if names:
        many = len(names) > 1
        return [Finding(True, f"{len(names)} worker{'s' * many} answer{'' if many else 's'} on "
                              f"this broker: {', '.join(names)}.")], {"names": names}
    elsewhere = _other_databases(url)
    if elsewhere:
        return [Finding(False, f"No worker answers on database {_db(url)}, and workers have "
                               f"been listening on {', '.join(elsewhere)} of the same Redis: "
                               "your worker and your project use different databases.",
                        "Start the worker with the same REDIS_URL as the web server (put it "
                        "in .env, which both read).", L00)], {}
    return [Finding(False, "No worker answers on this broker.",
                    "Start one: `celery -A config worker -l info` in starter_project/ (or "
                    "`make run`, which starts everything).", L01)], {}


def _registered(app, workers: dict) -> list[Finding]:
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    replies = app.control.inspect(timeout=ASK, destination=workers["names"]).registered() or {}
    found = []
    for worker, known in sorted(replies.items()):
        missing = sorted(ours - set(known))
        if missing:
            found.append(Finding(False, f"{worker} does not know {', '.join(missing)}: it "
                                        "started before you added or renamed them, so it "
                                        "answers \"Received unregistered task\".",
                                 "Restart the worker (Ctrl-C, then start it again): a worker "
                                 "never reloads your code.", L02))
    if replies and not found:
        found.append(Finding(True, f"Every worker knows your {len(ours)} tasks."))
    return found


def _queues(app, client, workers: dict) -> list[Finding]:
    held = look(client)
    found = []
    consumed = set()
    if workers:
        replies = app.control.inspect(timeout=ASK, destination=workers["names"]).active_queues()
        consumed = {q["name"] for queues in (replies or {}).values() for q in queues}
    for queue, count in held.queues.items():
        if count and workers and queue not in consumed:
            found.append(Finding(False, f"Queue {queue!r} holds {count} messages and no worker "
                                        "consumes it.",
                                 f"Start a worker for it: `celery -A config worker -Q {queue}` "
                                 "(or route the task to a queue a worker consumes).", L02))
        elif count and not workers:
            found.append(Finding(None, f"Queue {queue!r} holds {count} messages: they wait "
                                       "for a worker, and one that starts will take them."))
    timeout = float((app.conf.broker_transport_options or {}).get("visibility_timeout", 3600))
    late = [m for m in held.unacked if m["eta"] and _seconds_until(m["eta"]) > timeout]
    if late:
        found.append(Finding(False, f"{len(late)} task(s) wait for an ETA more than the "
                                    f"visibility timeout ({timeout:g} s) away, e.g. "
                                    f"{late[0]['task']}: Redis will deliver them again, to "
                                    "another worker, before they are due.",
                             "Keep countdowns under the visibility timeout, or raise "
                             "visibility_timeout in CELERY_BROKER_TRANSPORT_OPTIONS.",
                             "lessons/10-reliable-delivery.md"))
    return found


def _seconds_until(eta: str) -> float:
    from datetime import datetime
    try:
        return datetime.fromisoformat(eta).timestamp() - time.time()
    except ValueError:
        return 0.0


def _beats() -> list[Finding]:
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    beats = []
    for entry in proc.iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if any(w.endswith("celery") or w == "celery" for w in words) and "beat" in words:
            beats.append(entry.name)
    if len(beats) > 1:
        return [Finding(False, f"{len(beats)} celery beat processes run on this machine "
                               f"(pids {', '.join(beats)}): each one sends every schedule entry, "
                               "so every periodic task runs twice.",
                        "Run exactly one beat: stop the others.", L06)]
    return []


def diagnose(project: Path) -> list[Finding]:
    """Every finding, in the order a student would fix them."""
    import logging
    logging.getLogger("kombu").setLevel(logging.ERROR)  # "No hostname was supplied" and such
    found = []
    if os.name == "nt":
        found.append(Finding(None, "Celery does not support Windows (since 4.0): its default "
                                   "pool cannot start there.",
                             "Use WSL, or start the worker with `-P solo` (or threads, gevent).",
                             L01))
    url, where = stack_broker(project)
    try:
        client = ping(url)
    except BrokerUnreachable:
        return found + [Finding(False, NO_ANSWER.format(url=redact(url), where=where),
                                START_A_BROKER, L00)]
    found.append(Finding(True, f"The broker answers: {redact(url)} ({where})."))
    app, problem = _load(project, url, where)
    if problem:
        return found + [problem]
    for step in (_namespace, lambda app: _broker_findings(app, url, where)):
        found += step(app)
        if any(f.ok is False for f in found):
            return found  # the app talks to another broker: what answers there is beside the point
    worker_findings, workers = _workers(app, url)
    found += worker_findings
    if workers:
        found += _registered(app, workers)
    found += _queues(app, client, workers) + _beats()
    return found


MARKS = {True: "✓", False: "✗", None: "·"}


def render(findings: list[Finding], project: str) -> list[str]:
    lines = [f"make doctor · {project}"]
    for finding in findings:
        lines.append(f"  {MARKS[finding.ok]} {finding.text}")
        if finding.fix:
            lines += ["      " + line for line in (f"Fix:  {finding.fix}").splitlines()]
        if finding.lesson and finding.ok is not True:
            lines.append(f"      Read: {finding.lesson}")
    problems = sum(1 for f in findings if f.ok is False)
    lines += ["", "Nothing wrong that doctor can see." if not problems
              else f"{problems} thing{'s' * (problems > 1)} to fix."]
    return lines

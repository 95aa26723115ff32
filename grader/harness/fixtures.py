"""The harness's fixtures: what a checker asks for by name.

Session fixtures that fail (no Celery app, eager mode on, a worker that will not start) are
reported once, on a line of their own, and every later check that needs them is skipped.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from . import plugin
from .failures import CheckFailed, fail, sentence
from .urls import first_url, location, same_database, same_server

FIXTURE_TITLES = {
    "celery_app": "Your project's Celery app is ready: config.celery_app, on the broker in "
                  "REDIS_URL, eager mode off",
    "worker": "A Celery worker starts for your project",
    "flower": "Flower starts for your project and hears the broker's events",
}
_BROKEN = {"celery_app": "the Celery app is not ready (see above)",
           "worker": "the Celery worker did not start (see above)",
           "flower": "Flower did not start (see above)"}


@contextmanager
def _guard(fixture: str):
    """Remember a session fixture that failed, so later checks skip instead of failing again."""
    try:
        yield
    except CheckFailed as exc:
        plugin._run.broken[fixture] = _BROKEN[fixture]
        exc.fixture = fixture
        raise
    except Exception as exc:
        plugin._run.broken[fixture] = f"{type(exc).__name__}: {exc}"
        raise


@pytest.fixture(scope="session")
def seed() -> int:
    """The seed this run's random data comes from (replay with SEED=)."""
    return plugin._run.seed


@pytest.fixture(scope="session")
def fake():
    """Random names, addresses, titles and messages from the run's seed."""
    return plugin._run.fake


@pytest.fixture(scope="session")
def environment(project) -> dict[str, str]:
    """The variables the project started with (read-only).

    Settings that the project reads from the environment once, at import (TIME_ZONE,
    FEEDBACK_EMAIL_DELAY...), cannot be changed for a check afterwards: a module-level
    ``project_environment(fake)`` in check.py chooses them before Django starts, and a check
    reads the chosen value here. ``settings(...)`` is for what the project reads at use time.
    """
    return dict(project.environment)


@pytest.fixture(scope="session")
def broker():
    """The broker this run uses: ``.url`` and a human ``.label``."""
    return plugin._run.broker


@pytest.fixture(scope="session")
def project():
    """The student's project, loaded: ``.path``, ``.settings``, ``.module("app.module")``."""
    return plugin._run.project


def _project_app():
    """config.celery_app, ready for checks: (app, None), or (None, the failure to report)."""
    import config
    app = getattr(config, "celery_app", None)
    if app is None:
        return None, CheckFailed(
            "config/__init__.py does not expose a Celery app named celery_app.",
            "`from .celery import app as celery_app` in config/__init__.py",
            "This exercise builds on exercise 01: run `make check EX=01` first.",
            lesson="01-celery-app.md")
    if app.conf.task_always_eager:
        return None, CheckFailed(
            "CELERY_TASK_ALWAYS_EAGER is on: .delay() runs the task right inside the request, "
            "so nothing goes through the broker to a worker.",
            "eager mode off, and tasks sent to a real worker",
            "Remove CELERY_TASK_ALWAYS_EAGER (or task_always_eager) from your settings.",
            lesson="02-offload-feedback-email.md#why-not-eager-mode")
    problem = elsewhere(app, plugin._run.broker.url)
    if problem:
        return None, problem
    options = dict(app.conf.broker_transport_options or {})
    options["polling_interval"] = 0.1  # a worker that stops in 0.1 s, not 1 s
    app.conf.broker_transport_options = options
    return app, None


_WHERE_FROM = {"broker_url": ("CELERY_BROKER_URL", "broker="),
               "result_backend": ("CELERY_RESULT_BACKEND", "backend=")}


def url_source(app, key: str, value: str) -> str:
    """Where the app's ``key`` comes from, in the student's words."""
    from django.conf import settings
    setting, argument = _WHERE_FROM[key]
    if key in getattr(app, "_preconf_set_by_auto", ()):
        return f'Celery("...", {argument}...) in config/celery.py'
    if key in getattr(app, "_preconf", {}) or key in app.conf.changes:
        return f"app.conf.{key} = ... in your code"
    if first_url(getattr(settings, setting, None)) == value:
        return f"{setting} in config/settings.py"
    return "the app's configuration"


def _no_broker_advice() -> str:
    """What to do about a broker URL the app does not have: never written, written without
    its CELERY_ prefix, or written under ``if DEBUG:``."""
    usual = "Set CELERY_BROKER_URL = REDIS_URL in config/settings.py."
    project = getattr(plugin._run, "project", None)
    if project is None:
        return usual
    from .project import settings_advice
    return settings_advice(project, {"broker_url": usual}, {"broker_url": "CELERY_BROKER_URL"},
                           "Write it at the top level of the file.") or usual


def elsewhere(app, ours: str) -> CheckFailed | None:
    """The failure to report when ``app`` would talk to another Redis than this run's."""
    from .broker import redact

    conf = app.conf  # the CELERY_* variables of a .env are gone: this is the app's own
    broker = first_url(conf.broker_write_url)
    read = first_url(conf.broker_read_url)
    where = "01-celery-app.md#step-3-point-celery-at-redis"
    expected = ("the app's broker and result backend to follow REDIS_URL, which this check set: "
                "CELERY_BROKER_URL = REDIS_URL in config/settings.py, and no URL in Celery(...)")
    if not broker:
        return CheckFailed(
            f"Your Celery app has no broker URL, so it would connect to Celery's default, "
            f"{app.connection_for_write().as_uri()}, not to the Redis in REDIS_URL "
            f"({redact(ours)}).", expected, _no_broker_advice(), lesson=where)
    for url in dict.fromkeys((broker, read)):
        if not same_database(url, ours):
            return CheckFailed(
                f"Your Celery app sends tasks to {redact(url)} ({url_source(app, 'broker_url', url)})"
                f", not to {redact(ours)}, the Redis that this check put in REDIS_URL. A worker "
                "would take tasks from somebody else's queue.", expected,
                "Write no broker URL into your code: read REDIS_URL with env(...) once in "
                "settings.py and use it for CELERY_BROKER_URL.", lesson=where)
    backend = first_url(conf.result_backend)
    if location(backend) and not same_server(backend, ours):
        return CheckFailed(
            f"Your Celery app stores results at {redact(backend)} "
            f"({url_source(app, 'result_backend', backend)}), another Redis than {redact(ours)}, "
            "the one this check put in REDIS_URL.", expected,
            "Use REDIS_URL for CELERY_RESULT_BACKEND too, rather than a URL written into your "
            "code.", lesson=where)
    return None


@pytest.fixture(scope="session")
def celery_app(project):
    """The project's Celery app (``config.celery_app``), refusing eager mode."""
    with _guard("celery_app"):
        app, problem = _project_app()
        if problem:
            raise problem
        if plugin._watch:
            plugin._watch.armed = True  # eager mode found on later was switched on later
        return app


@pytest.fixture(scope="session")
def worker(celery_app):
    """A real worker for the project's app, in this process, consuming from the broker."""
    from .worker import InProcessWorker, WorkerDidNotStart, WorkerDidNotStop

    with _guard("worker"):
        try:
            handle = InProcessWorker(celery_app).start()
            handle.wait_ready()
        except WorkerDidNotStart as exc:
            fail(sentence(f"The Celery worker did not start: {exc}"),
                 "a worker that starts and consumes tasks",
                 "Run `celery -A config worker -l info` yourself and read its first error.")
    yield handle
    try:
        handle.stop()
    except WorkerDidNotStop as exc:
        plugin._run.emit(event="note", text=str(exc))


@pytest.fixture(scope="session")
def flower(celery_app, fake):
    """Flower's real app on a loopback port, hearing the broker's events; ``.login`` opens it."""
    from .flower import InProcessFlower

    with _guard("flower"):
        try:
            handle = InProcessFlower(celery_app, f"{fake.token(8).lower()}:{fake.token(16)}")
            handle.start()
        except RuntimeError as exc:
            fail(sentence(str(exc)), "Flower's application to start and hear task events",
                 "Run `celery -A config flower` yourself and read its first error.")
    yield handle
    handle.stop()


@pytest.fixture
def outbox():
    """The emails sent during this check (Django's locmem backend), with ``wait_for(n)``."""
    from .mail import Outbox
    return Outbox()


@pytest.fixture
def published():
    """The task messages published during this check."""
    from .published import Published
    with Published() as recorder:
        yield recorder


@pytest.fixture
def received():
    """The task messages the worker took (with their content type) or refused, in this check."""
    from .received import Received
    with Received() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def playlist_api(project, seed):
    """A slow fake playlist API (1 s per answer), with SPOTIFY_API_URL pointing at it."""
    from django.test import override_settings

    from .playlist_api import PlaylistAPI
    with PlaylistAPI(seed, delay=1.0) as api, override_settings(SPOTIFY_API_URL=api.url):
        yield api


@pytest.fixture
def client():
    """Django's test client; an exception in a view is raised, not turned into a 500 page."""
    from django.test import Client
    return Client(raise_request_exception=True)


@pytest.fixture
def settings():
    """Change Django settings for one check: ``settings(FEEDBACK_EMAIL_DELAY=1)``.

    Only for settings the project reads when it uses them; a value copied at import time
    (a module constant, an env(...) default) stays as it was: use ``project_environment``
    and the ``environment`` fixture for those.
    """
    from django.test import override_settings
    active = []

    def change(**values):
        override = override_settings(**values)
        override.enable()
        active.append(override)

    yield change
    for override in reversed(active):
        override.disable()


_flushed: list = []  # the database as the run's first flush left it


@pytest.fixture
def empty_db(project):
    """A database with every table emptied, for checks that count rows.

    The first flush is Django's own (post_migrate then fills in content types and
    permissions: 0.05-0.1 s of CPU); later ones copy back what it left, through SQLite's
    backup API, which other connections (the worker's) see like any write.
    """
    import sqlite3

    from django.core.management import call_command
    from django.db import connection
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        call_command("flush", verbosity=0, interactive=False)
        return
    connection.ensure_connection()
    if _flushed and _copied_back(_flushed[0], connection.connection):
        return
    call_command("flush", verbosity=0, interactive=False)
    connection.ensure_connection()
    copy = sqlite3.connect(":memory:", check_same_thread=False)
    connection.connection.backup(copy)
    _flushed.append(copy)


# Seconds a copy-back goes on retrying a database another connection holds, after the
# connection's own busy timeout (SQLite's, 5 s by default) has passed once.
_BACKUP_WAIT = 2.0


def _copied_back(source, target) -> bool:
    """Copy ``source`` over ``target``; False when another connection (a task still running)
    held the database for too long. SQLite's backup retries a locked database without end:
    its progress callback, called after every try, gives it a deadline. The caller then
    flushes, which fails with "database is locked" and the check says so."""
    import time

    deadline = time.monotonic() + _BACKUP_WAIT

    def progress(status, remaining, total):
        if time.monotonic() > deadline:
            raise TimeoutError("the database stayed locked")

    try:
        source.backup(target, progress=progress, sleep=0.02)
        return True
    except TimeoutError:
        return False


@pytest.fixture
def beat(celery_app):
    """Makes a BeatClock: ``beat(start=datetime)`` runs the app's schedule on a fake clock."""
    from .clock import BeatClock
    clocks = []

    def make(start, **kwargs):
        clock = BeatClock(celery_app, start, **kwargs)
        clocks.append(clock)
        return clock

    yield make
    for clock in clocks:
        clock.close()

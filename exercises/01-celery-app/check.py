"""Exercise 01 · A Celery app for Encore."""

import inspect
import sys

from celery import Celery

from celery.exceptions import TimeoutError as CeleryTimeout

from grader.harness import expect, fail, needs
from grader.harness.broker import redact
from grader.harness.failures import sentence
from grader.harness.fixtures import url_source
from grader.harness.project import settings_advice
from grader.harness.urls import first_url, same_database, same_server


def test_celery_module(project):
    """config/celery.py defines a Celery app"""
    module = project.module("config.celery", exercise="01")
    apps = [value for value in vars(module).values() if isinstance(value, Celery)]
    expect(apps, "config/celery.py exists but defines no Celery app.",
           'app = Celery("config") in config/celery.py', lesson="#step-1-the-celery-app")


@needs(test_celery_module)
def test_exposed_as_celery_app(project):
    """config/__init__.py exposes the app as celery_app"""
    import config
    import config.celery as module

    app = getattr(config, "celery_app", None)
    expect(app is not None, "config/__init__.py has no celery_app.",
           "`from .celery import app as celery_app` in config/__init__.py, so the app loads "
           "whenever Django starts", lesson="#step-2-load-the-app-when-django-starts")
    expect(app in vars(module).values(), "config.celery_app is not the app of config/celery.py.",
           "config.celery_app to be the very app that config/celery.py defines",
           lesson="#step-2-load-the-app-when-django-starts")


@needs(test_exposed_as_celery_app)
def test_reads_django_settings(project, settings, fake):
    """The app reads Django's settings with namespace "CELERY\""""
    import config

    priority = fake.count(1, 9)
    settings(CELERY_TASK_DEFAULT_PRIORITY=priority)
    seen = config.celery_app.conf.task_default_priority
    if seen == priority:
        return
    settings(CELERY_CONF_TASK_DEFAULT_PRIORITY=priority)
    other = "CELERY_CONF" if config.celery_app.conf.task_default_priority == priority else None
    fail(f"This check set CELERY_TASK_DEFAULT_PRIORITY = {priority} in Django's settings, and "
         f"the app's task_default_priority stayed {seen!r}"
         + (f": the app reads the {other} namespace." if other else "."),
         'app.config_from_object("django.conf:settings", namespace="CELERY"), so every '
         "CELERY_* setting configures Celery",
         "This course names its settings CELERY_*; other projects may choose another prefix.",
         lesson="#step-1-the-celery-app")


@needs(test_exposed_as_celery_app)
def test_broker_from_redis_url(project, broker, fake):
    """CELERY_BROKER_URL and CELERY_RESULT_BACKEND come from REDIS_URL"""
    import config

    app, ours = config.celery_app, broker.url
    step = "#step-3-point-celery-at-redis"
    # What the app itself is configured with: the harness sets no CELERY_* variable, and took
    # out any that a .env put in the environment, so only REDIS_URL leads to this broker.
    used = {"CELERY_BROKER_URL": (first_url(app.conf.broker_write_url), "broker_url"),
            "CELERY_RESULT_BACKEND": (first_url(app.conf.result_backend), "result_backend")}
    for name, (value, key) in used.items():
        if not value:
            # Never written, written without its prefix, or written under `if DEBUG:`.
            advice = settings_advice(project, {key: ""}, {key: name},
                                     "Write it at the top level of the file.")
            fail(f"Your Celery app has no {key}: "
                 + (advice if advice else f"config/settings.py defines no {name}."),
                 f"{name} = REDIS_URL in config/settings.py", lesson=step)
        same = same_database if key == "broker_url" else same_server  # results: any database
        expect(same(value, ours),
               f"This check set REDIS_URL to {redact(ours)}, and your app's {key} is "
               f"{redact(value)} ({url_source(app, key, value)}).",
               f"{name} to follow REDIS_URL, which comes from the environment",
               "Read REDIS_URL with env(...) once, then use it for both settings, rather than "
               "writing a URL into settings.py or into Celery(...).", lesson=step)
    # A real Redis on this machine has a port a project can guess: run settings.py again with
    # a REDIS_URL nobody could write down, and see whether the settings follow it.
    probe = f"redis://encore-{fake.token(6).lower()}.invalid:{fake.count(20000, 60000)}/" \
            f"{fake.count(1, 15)}"
    again = project.settings_with(REDIS_URL=probe) or {}
    for name, (value, key) in used.items():
        mine = first_url(getattr(project.settings, name, None))
        if mine != value or name not in again:
            continue  # the app does not take this one from settings.py
        follows = same_database if key == "broker_url" else same_server
        expect(follows(first_url(again[name]), probe),
               f"This check loaded config/settings.py again with REDIS_URL={probe}, and "
               f"{name} stayed {redact(str(again[name]))}: it is written into settings.py.",
               f"{name} to follow REDIS_URL, which comes from the environment",
               "Read REDIS_URL with env(...) once, then use it for both settings.",
               lesson=step)


@needs(test_exposed_as_celery_app)
def test_autodiscovers_tasks(project, settings, tmp_path):
    """The app finds tasks.py in every installed app (autodiscover_tasks)"""
    import config

    probe = tmp_path / "encore_probe"
    probe.mkdir()
    (probe / "__init__.py").write_text("")
    (probe / "tasks.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        settings(INSTALLED_APPS=[*project.settings.INSTALLED_APPS, "encore_probe"])
        config.celery_app.loader.import_default_modules()
        found = "encore_probe.tasks" in sys.modules
    finally:
        sys.path.remove(str(tmp_path))
    expect(found, "This check installed a new app with a tasks.py, and the Celery app "
           "did not import it when a worker would start.",
           "app.autodiscover_tasks() in config/celery.py, so every app's tasks.py is loaded",
           lesson="#step-1-the-celery-app")


@needs(test_exposed_as_celery_app)
def test_debug_task_runs_on_worker(project, celery_app, worker):
    """config.celery.debug_task runs on a worker and returns its own task id"""
    task = project.task("config.celery.debug_task", exercise="01",
                        expected="@app.task(bind=True) def debug_task(self): ... in "
                        "config/celery.py", lesson="#step-5-a-first-task")
    registered = celery_app.tasks.get(task.name, task)
    if isinstance(inspect.getattr_static(type(registered), "run", None), staticmethod):
        # Celery 5 makes the function of a task without bind=True a staticmethod of its class.
        fail("debug_task is not a bound task: it is declared without bind=True, so Celery "
             "does not pass it the task as self, and it cannot read its own request.",
             "@app.task(bind=True) def debug_task(self): return self.request.id",
             "Declare it with @app.task(bind=True); then self.request.id is its own id.",
             lesson="#step-5-a-first-task")
    if task.ignore_result:
        fail("debug_task is declared with ignore_result=True, so what it returns is thrown away.",
             "a result this check can read", "Drop ignore_result=True.",
             lesson="#step-5-a-first-task")
    try:
        result = task.delay()
        value = result.get(timeout=5)
    except CeleryTimeout:
        fail("No result came back within 5 s.",
             "the worker to run debug_task and store its result",
             lesson="#step-4-start-a-worker")
    except Exception as exc:
        # The harness adds the worker's traceback, trimmed to the student's files.
        observed = sentence(f"debug_task raised an exception on the worker: "
                            f"{type(exc).__name__}: {exc}")
        if isinstance(exc, TypeError) and "positional argument" in str(exc):
            fail(observed, "a bound task that takes the task as self: def debug_task(self)",
                 "With @app.task(bind=True), Celery passes the task as the first argument.",
                 lesson="#step-5-a-first-task")
        fail(observed, "debug_task to run without an error and return its own id",
             lesson="#step-5-a-first-task")
    expect(value == result.id, f"debug_task returned {value!r}.",
           f"its own task id, {result.id}: return self.request.id",
           "A bound task gets itself as its first argument; self.request.id is its id.",
           lesson="#step-5-a-first-task")

"""Loading a student's Django project into this process, with the checker's environment in place."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .failures import fail
from .tracebacks import student_traceback

__all__ = ["CELERY_URL_VARIABLES", "Project", "ProjectError", "check_layout", "checker_environment",
           "load_project"]

# Celery reads these straight from the environment, over any setting, each time it connects.
# A student's .env (which django-environ copies into os.environ) must not point the checked
# worker somewhere else, and the harness sets none of them: a check judges the URLs the app
# itself is configured with, which the project can only get from REDIS_URL.
CELERY_URL_VARIABLES = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
                        "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL")


class ProjectError(Exception):
    """The project cannot be checked at all; ``args[0]`` says why in plain words."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.message = message
        self.details = details


def checker_environment(broker_url: str, workdir: Path, seed: int) -> dict[str, str]:
    """The variables a checked project starts with. They win over the student's .env.

    REDIS_URL is the only way to this run's broker (the embedded one has a random port), so a
    project whose app reaches it reads REDIS_URL. DEBUG is off: the project loads as in
    production, so that nothing passes only because of code that runs ``if DEBUG``.
    """
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "False",
        "REDIS_URL": broker_url,
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "EMAIL_URL": "memorymail://",
        "SECRET_KEY": f"checker-{seed}-not-a-secret",
        "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "FEEDBACK_EMAIL_DELAY": "0",
        "SEARCH_INDEX_DELAY": "0",
        # Port 9 (discard) has no listener on loopback: a forgotten call fails at once.
        "SPOTIFY_API_URL": "http://127.0.0.1:9/genres",
        # The project has loaded and migrated by the time a worker starts; Django's system
        # checks, which Celery would run again in the worker, add 0.1-0.2 s to every check.
        "CELERY_SKIP_CHECKS": "1",
    }


def check_layout(path: Path) -> None:
    """Fail with a plain sentence unless ``path`` looks like the Encore project."""
    if not path.is_dir():
        raise ProjectError(f"There is no folder {path}. Point PROJECT= at your Encore project.")
    if not (path / "manage.py").is_file():
        raise ProjectError(
            f"{path} has no manage.py. PROJECT= must be the folder that holds manage.py "
            "(starter_project/ unless you copied it elsewhere).")
    if not (path / "config" / "settings.py").is_file():
        raise ProjectError(f"{path} has no config/settings.py: is this the Encore project?")


@dataclass
class Project:
    path: Path
    # The variables the project started with: the harness's and the checkers' own
    # (``project_environment(fake)``), which is how a check sets what settings read only once.
    environment: dict[str, str] = field(default_factory=dict)

    def module(self, dotted: str, *, exercise: str | None = None):
        """Import one of the student's modules, turning a failure into a check failure."""
        file = self.path / (dotted.replace(".", "/") + ".py")
        try:
            return importlib.import_module(dotted)
        except ModuleNotFoundError as exc:
            if exc.name and dotted.startswith(exc.name):
                where = file.relative_to(self.path)
                fail(f"There is no {where} in your project yet.",
                     f"{where}" + (f", which exercise {exercise} adds" if exercise else ""))
            raise
        except Exception as exc:
            fail(f"Importing {dotted} raised an error:\n{student_traceback(exc, self.path)}",
                 f"{dotted} imports cleanly")

    def task(self, dotted: str, *, exercise: str, expected: str, lesson: str | None = None):
        """The Celery task at ``dotted`` ("music.tasks.name"), or a failure saying it is missing.

        ``expected`` says how the exercise declares it.
        """
        module, _, name = dotted.rpartition(".")
        task = getattr(self.module(module, exercise=exercise), name, None)
        if task is None or not hasattr(task, "delay"):
            fail(f"{module.replace('.', '/')}.py has no Celery task named {name}.", expected,
                 lesson=lesson)
        from celery.app.task import Task
        if not isinstance(task, Task):  # a function given a .delay of its own, say
            fail(f"{module.replace('.', '/')}.py has {name}, but it is a {type(task).__name__}, "
                 "not a Celery task: its .delay() is not Celery's, so nothing goes through the "
                 "broker to a worker.", expected, lesson=lesson)
        return task

    @staticmethod
    def not_shared(task, app) -> str | None:
        """Why ``task`` is not a @shared_task, in words for the student; None when it is one.

        ``@app.task`` registers on other apps too (shared=True is its default), so what tells
        it apart is that it keeps using ``app`` when another Celery app is current.
        """
        from celery import Celery

        other = Celery("another-project", set_as_current=False)
        other.finalize()
        if task.name not in other.tasks:
            return "exists only on config's app, so it is tied to this one project"
        other.set_current()
        try:
            follows = task.app is other
        finally:
            app.set_current()
        if not follows:
            return ("is bound to config's app (made with @app.task), so it always uses that "
                    "app and cannot move to another project")
        return None

    @property
    def settings(self):
        from django.conf import settings
        return settings

    def settings_with(self, **environ: str) -> dict | None:
        """config/settings.py run again, on its own, with these variables in the environment.

        Django reads settings once; this shows what they would be under another environment,
        so that a value written into settings.py is told apart from one that follows a variable.
        Returns the upper-case names and their values, or None if settings.py raised.
        """
        import importlib.util

        saved = dict(os.environ)
        os.environ.update(environ)
        try:
            spec = importlib.util.spec_from_file_location(
                "config._encore_settings_again", self.path / "config" / "settings.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception:
            return None
        finally:
            os.environ.clear()  # also whatever its .env put there
            os.environ.update(saved)
        return {name: value for name, value in vars(module).items() if name.isupper()}


def load_project(path: Path, environment: dict[str, str], workdir: Path,
                 cache: Path | None = None) -> Project:
    """Start Django on the project at ``path`` and migrate a fresh database in ``workdir``.

    With ``cache``, a database migrated once is kept there and copied for later runs.
    """
    path = path.resolve()
    check_layout(path)
    for name in CELERY_URL_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(environment)
    sys.path.insert(0, str(path))
    os.chdir(workdir)  # anything the project writes lands in the scratch folder
    try:
        import django
        django.setup()
    except Exception as exc:
        raise ProjectError("Django could not start your project.", student_traceback(exc, path))
    # A .env's CELERY_* URLs are in os.environ now (read_env copies them), and Celery would
    # prefer them over the app's settings; its configuration is lazy, so nothing read them yet.
    for name in CELERY_URL_VARIABLES:
        if name not in environment:
            os.environ.pop(name, None)

    from django.conf import settings
    from django.test.utils import setup_test_environment

    from .mail import BACKEND
    # The test client then sees each response's context. DEBUG off, as in Django's own test
    # runner: with it on, every exception in a view first renders Django's debug page, which
    # formats every local variable of every frame (0.3 to 2.5 s per error here).
    setup_test_environment(debug=False)
    settings.EMAIL_BACKEND = BACKEND
    try:
        _migrate(path, workdir / "db.sqlite3", cache)
    except Exception as exc:
        raise ProjectError("Your migrations do not run on a fresh database.",
                           student_traceback(exc, path))
    return Project(path, dict(environment))


def _migrations_key(path: Path) -> str:
    """What a migrated database depends on: every migration file, the apps, Django itself."""
    import django
    from django.conf import settings

    digest = hashlib.sha256(f"{django.__version__}|{settings.INSTALLED_APPS}|"
                            f"{getattr(settings, 'AUTH_USER_MODEL', '')}".encode())
    for file in sorted(path.rglob("migrations/*.py")):
        digest.update(str(file.relative_to(path)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:32]


def _migrate(path: Path, database: Path, cache: Path | None) -> None:
    """Migrate a fresh database, or copy one migrated from the very same migrations before."""
    from django.core.management import call_command
    from django.db import connections

    template = cache / f"{_migrations_key(path)}.sqlite3" if cache else None
    if template and template.is_file():
        connections.close_all()
        shutil.copyfile(template, database)
        return
    call_command("migrate", verbosity=0, interactive=False)
    if template:
        connections.close_all()
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(database, partial)
        partial.replace(template)  # atomic: parallel runs never see half a file


def settings_advice(project: Project, missing: dict[str, str], names: dict[str, str],
                    why: str) -> str:
    """What to do about Celery settings the app does not have, in the student's words.

    ``missing`` maps each option (``task_acks_late``) to its usual fix, ``names`` each option to
    its setting (``CELERY_TASK_ACKS_LATE``); ``why`` ends the note on settings written under a
    condition. Tells apart a setting never written, one written without the CELERY_ prefix, and
    one written indented, where production never runs it (``if DEBUG:``).
    """
    import re

    source = (project.path / "config" / "settings.py").read_text(errors="replace")
    hidden, advice = [], []
    for option, usual in missing.items():
        name = names[option]
        bare = name.removeprefix("CELERY_")
        if re.search(rf"^\s+{name}\s*=", source, re.MULTILINE):
            hidden.append(name)
        elif getattr(project.settings, bare, None) is not None:
            advice.append(f"config/settings.py sets {bare}, without the CELERY_ prefix: Django "
                          "keeps it, and Celery (namespace=\"CELERY\") never reads it. Name it "
                          f"{name}.")
        elif usual:
            advice.append(usual)
    if hidden:
        them = "them" if len(hidden) > 1 else "it"
        advice.insert(0, f"config/settings.py sets {', '.join(hidden)} indented, under a "
                      "condition (under `if DEBUG:`?), and with DEBUG=False, as in production "
                      f"and in this check, the app does not have {them}. {why}")
    return " ".join(advice)

"""Checker processes started ahead of time, and what they import before a run begins.

``python -m grader.warm <pytest arguments>`` imports what every checker run needs (pytest,
Django, Celery, the Redis clients, the harness: about half a second), then waits for a line
"go" on its standard input, then runs pytest as ``python -m pytest`` would. `make watch` keeps
one ready while the student edits, so a re-check starts warm; the instructors' fork server
(grader/grade/zygote.py) preloads the same list once and forks every run from it. Nothing of
the student's project is imported before a run begins.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import sys

__all__ = ["PRELOAD", "preload", "main"]

# Everything a run imports that does not need the project's settings: what is not imported
# here, every run imports again after the fork (measured: 0.1-0.2 s of CPU a run). A module
# that needs settings fails here and is left to the run.
PRELOAD = (
    "pytest", "_pytest.python", "_pytest.runner", "_pytest.skipping", "_pytest.terminal",
    "_pytest.faulthandler", "_pytest.helpconfig", "_pytest.setuponly", "_pytest.setupplan",
    "_pytest.threadexception", "_pytest.unittest", "_pytest.unraisableexception",
    "_pytest.warnings", "_pytest._argcomplete", "pdb", "readline", "code",
    "django", "django.apps", "django.db.models", "django.test", "django.test.utils",
    "django.core.management", "django.core.mail", "django.contrib.auth.models",
    "django.contrib.admin", "django.forms", "django.http", "django.urls", "environ",
    "django.conf.locale.en.formats", "django.contrib.admin.apps", "django.contrib.auth.apps",
    "django.contrib.auth.tokens", "django.contrib.auth.validators",
    "django.contrib.auth.context_processors", "django.contrib.contenttypes.apps",
    "django.contrib.messages.apps", "django.contrib.messages.middleware",
    "django.contrib.messages.context_processors", "django.contrib.messages.storage.fallback",
    "django.contrib.sessions.apps", "django.contrib.sessions.middleware",
    "django.contrib.sessions.backends.db", "django.contrib.sessions.serializers",
    "django.contrib.staticfiles.apps", "django.contrib.staticfiles.storage",
    "django.contrib.sites.shortcuts", "django.contrib.admin.templatetags.admin_list",
    "django.contrib.admin.templatetags.admin_modify", "django.contrib.admin.templatetags.log",
    "django.core.cache.backends.locmem", "django.core.management.commands.flush",
    "django.core.management.commands.migrate", "django.core.serializers.json",
    "django.db.backends.sqlite3.base", "django.db.backends.sqlite3.schema",
    "django.db.backends.sqlite3.introspection", "django.db.backends.sqlite3.creation",
    "django.db.backends.sqlite3.client", "django.db.migrations.executor",
    "django.db.models.sql.compiler", "django.middleware.clickjacking",
    "django.middleware.common", "django.middleware.csrf", "django.middleware.security",
    "django.template.context_processors", "django.template.loaders.app_directories",
    "django.template.loaders.cached", "django.templatetags.cache", "django.templatetags.l10n",
    "django.templatetags.tz", "django.utils.translation.reloader",
    "requests", "urllib3", "idna", "charset_normalizer", "certifi", "http.cookiejar",
    "celery", "celery.app", "celery.app.task", "celery.worker", "celery.contrib.testing.worker",
    "celery.app.control", "celery.app.events", "celery.concurrency.solo",
    "celery.contrib.abortable", "celery.contrib.django.task", "celery.events",
    "celery.events.state", "celery.fixups.django", "celery.loaders.app",
    "celery.worker.autoscale", "celery.worker.consumer.delayed_delivery",
    "celery.worker.strategy", "billiard.pool", "billiard.dummy", "kombu.mixins",
    "celery.backends.redis", "kombu.transport.redis", "redis", "fakeredis",
    "fakeredis._clients._tcp_server", "grader.harness.plugin", "grader.harness.fixtures",
    "grader.harness.worker", "grader.harness.mail", "grader.harness.clock",
    "grader.harness.finished", "grader.harness.flower", "grader.harness.playlist_api",
    "grader.harness.published", "grader.harness.received", "grader.harness.schedule",
)


def preload() -> None:
    """Import PRELOAD, and settle what every run would otherwise redo after a fork."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that needs settings loads in the run instead
            pass
    # pytest's report of a failed check looks its frames' files up with inspect.getmodule,
    # which the first time resolves the real path of every module loaded (thousands of stat
    # calls; with a student's task spinning in the worker thread each waits for the GIL, and
    # the report outlived the check's time limit). Done once here, runs inherit the answers.
    inspect.getmodule(preload.__code__)
    # What is loaded now lives as long as the process: out of the collector's sight, so that
    # a collection in a forked run does not touch (and copy, page by page) every object.
    gc.collect()
    gc.freeze()


def main(argv: list[str]) -> int:
    preload()
    if sys.stdin.readline().strip() != "go":
        return 0  # nobody needed this run: the watcher stopped or moved on
    import pytest
    return pytest.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

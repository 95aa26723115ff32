"""What the project's tasks did during one check, as Celery's own signals tell it.

A check sees only its side of the broker: "no email arrived". The worker knows why (the task
raised, or was never registered), and a project can switch eager mode on at any moment after
the app was checked (in a signal handler, in a view). The plugin asks this watch after every
check and adds what it saw to a failure, or fails the check that ran a task eagerly.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from .tracebacks import student_traceback

__all__ = ["EAGER_LESSON", "Watch", "eager_failure"]

EAGER_LESSON = "lessons/02-offload-feedback-email.md#why-not-eager-mode"
_KEPT = 2  # worker failures shown under one check: the first is nearly always the cause


def eager_failure(task: str | None = None) -> dict:
    """The record fields of a check during which a task ran eagerly."""
    which = f"Your task {task} ran" if task else "Tasks run"
    return {"status": "failed", "timing": False, "lesson": EAGER_LESSON,
            "observed": f"{which} right inside the caller, not on the worker: "
                        "CELERY_TASK_ALWAYS_EAGER (task_always_eager) was switched on while "
                        "the project ran, so nothing went through the broker.",
            "expected": "eager mode off all the time, and tasks sent to a real worker",
            "hint": "Look for task_always_eager or CELERY_TASK_ALWAYS_EAGER anywhere in your "
                    "code (a signal handler, a view, apps.py), not only in settings.py, and "
                    "remove it."}


def _project_app():
    """config.celery_app if the project has one whose configuration is already read."""
    from celery import Celery

    app = getattr(sys.modules.get("config"), "celery_app", None)
    return app if isinstance(app, Celery) and app.configured else None


class Watch:
    """Listens to task_prerun, task_failure and task_unknown for the whole run."""

    def __init__(self, root: Path):
        self.root = Path(root)
        # Set once the celery_app fixture has seen eager mode off: from then on, eager mode
        # found on after a check was switched on while the project ran.
        self.armed = False
        self.eager_reported = False
        self._lock = threading.Lock()  # reset() on the check's thread, signals on the worker's
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self.eager: str | None = None  # the first task that ran eagerly in this check
        self.failures: list[str] = []  # tasks that raised on the worker, as the student reads it
        self.unknown: list[str] = []  # task names the worker received but does not know
        # Ids of the tasks that began during this check. A task's FAILURE is stored before
        # task_failure is sent, so a check that waited for it can end first: the signal then
        # arrives in the next check, whose failures it must not explain.
        self.began: set[str] = set()

    def connect(self) -> "Watch":
        from celery.signals import task_failure, task_prerun, task_unknown

        task_prerun.connect(self._prerun, weak=False)
        task_failure.connect(self._failure, weak=False)
        task_unknown.connect(self._unknown, weak=False)
        return self

    def _prerun(self, sender=None, task=None, task_id=None, **_):
        task = task or sender
        request = getattr(task, "request", None)
        if task_id:
            with self._lock:
                self.began.add(task_id)
        if self.eager is None and getattr(request, "is_eager", False) \
                and task.app.conf.task_always_eager:
            self.eager = task.name

    def _failure(self, sender=None, task_id=None, exception=None, traceback=None, **_):
        if threading.current_thread() is threading.main_thread() or exception is None:
            return  # raised in the check's own thread: its own traceback says it already
        with self._lock:  # this check's list: the next check may begin while we write
            failures, began = self.failures, self.began
        if task_id not in began:
            return  # a task of an earlier check, ending late (see _reset)
        if len(failures) < _KEPT:
            name = getattr(sender, "name", "?")
            text = student_traceback(exception, self.root, traceback)
            entry = f"Your task {name} raised on the worker:\n{text}"
            if entry not in failures:
                failures.append(entry)

    def _unknown(self, sender=None, name=None, **_):
        if name and name not in self.unknown:
            self.unknown.append(name)

    def eager_now(self) -> bool:
        app = _project_app() if self.armed else None
        return bool(app and app.conf.task_always_eager)

    def judge(self, record: dict) -> dict:
        """``record`` with what the worker saw during its check: eager mode, failures."""
        if record.get("fixture") or record["status"] == "skipped":
            return record
        if self.eager or self.eager_now():
            self.eager_reported, self.armed = True, False
            record.pop("details", None)
            return {**record, **eager_failure(self.eager)}
        if record["status"] == "passed":
            return record
        seen = [f"The worker does not know the task {name}: it received it, but no module it "
                "imported defines a task of that name (is the name spelt the same where you "
                "send it, and is it in a tasks.py of an installed app?)." for name in self.unknown]
        seen += self.failures
        if seen:
            record["details"] = "\n\n".join(filter(None, [record.get("details"), *seen]))
        return record

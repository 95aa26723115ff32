"""How the worker ended each task message: it ran (and succeeded or raised), or did not know it.

The worker's own signals say it, so no result backend is needed (a task with
``ignore_result=True`` stores nothing). Checkers use it to wait for a task to end before
counting what it did, and to name the real cause when nothing arrived.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from celery.signals import task_failure, task_postrun, task_prerun, task_unknown

from .senders import SealedField, ThreadName, from_celery

__all__ = ["Ended", "Finished"]


@dataclass(frozen=True)
class Ended:
    task: str
    state: str  # SUCCESS, FAILURE, RETRY... or UNKNOWN: the worker has no task of that name
    error: BaseException | None = None
    at: float = field(default_factory=time.monotonic)  # when it ended (time.monotonic)


class Finished:
    """Records, while open (a context manager), how each task message ended in the worker."""

    def __init__(self):
        self._errors: dict[str, BaseException] = {}
        self._changed = threading.Condition()

    @from_celery
    def _on_prerun(self, task=None, **_):
        # A task run in the calling thread (.apply(), or eager mode) is not the worker's: the
        # thread that sent an email this way is the request's, or the shell's.
        if getattr(getattr(task, "request", None), "is_eager", False):
            return
        thread = threading.current_thread()
        with self._changed:
            self._threads((thread.name, thread.ident))

    @property
    def threads(self) -> frozenset[ThreadName]:
        """The threads tasks ran in: the worker's (compare an email's ``thread`` with them)."""
        with self._changed:
            return frozenset(ThreadName(name, ident) for name, ident in self._threads())

    @from_celery
    def _on_failure(self, task_id=None, exception=None, **_):
        with self._changed:
            self._errors[task_id] = exception

    @from_celery
    def _on_postrun(self, sender=None, task_id=None, state=None, **_):
        ended = Ended(getattr(sender, "name", str(sender)), state or "", self._errors.get(task_id))
        with self._changed:
            self._ended((task_id, ended))
            self._changed.notify_all()

    @from_celery
    def _on_unknown(self, name=None, id=None, **_):
        with self._changed:
            self._ended((id, Ended(name or "", "UNKNOWN")))
            self._changed.notify_all()

    # The threads tasks ran in (the worker's), as (name, ident): only _on_prerun adds; how each
    # task message ended, as (id, Ended): only the worker's signals add.
    _threads = SealedField(_on_prerun, heard=True)
    _ended = SealedField(_on_postrun, _on_unknown, heard=True)

    @property
    def ended(self) -> dict[str, Ended]:
        """How each task message ended, by its id (a copy)."""
        with self._changed:
            return dict(self._ended())

    def wait(self, ids, within: float = 5.0) -> dict[str, Ended]:
        """How the tasks ``ids`` ended, once all have ended or ``within`` seconds passed."""
        ids = list(ids)
        deadline = time.monotonic() + within
        with self._changed:
            while not all(i in (ended := dict(self._ended())) for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return {i: ended[i] for i in ids if i in ended}

    def __enter__(self) -> "Finished":
        task_prerun.connect(self._on_prerun, weak=False)
        task_failure.connect(self._on_failure, weak=False)
        task_postrun.connect(self._on_postrun, weak=False)
        task_unknown.connect(self._on_unknown, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        task_prerun.disconnect(self._on_prerun)
        task_failure.disconnect(self._on_failure)
        task_postrun.disconnect(self._on_postrun)
        task_unknown.disconnect(self._on_unknown)


def explain(ended: Ended | None, label: str) -> str:
    """One sentence on how the task message ``label`` ended, for a failure's observed part.

    (The plugin adds the worker's traceback, trimmed to the student's files, under the failure.)
    """
    if ended is None:
        return f"The worker had not finished {label} by then."
    if ended.state == "UNKNOWN":
        return (f"The worker received a message for {ended.task!r} and does not know that task "
                "(\"Received unregistered task\").")
    if ended.error is not None:
        error = str(ended.error).rstrip(".")
        return f"{label} raised {type(ended.error).__name__} on the worker: {error}."
    return f"{label} ran on the worker and ended {ended.state}."

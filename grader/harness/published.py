"""Task messages the project publishes, as the broker receives them."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

from celery.signals import before_task_publish

from .senders import SealedField, from_celery

__all__ = ["Published", "PublishedMessage", "registered_name", "sent_instead"]


@dataclass(frozen=True)
class PublishedMessage:
    task: str
    id: str
    args: tuple
    kwargs: dict
    headers: dict = field(repr=False)
    properties: dict = field(repr=False)


class Published:
    """Records every task message published while it is open (a context manager)."""

    def __init__(self):
        self._lock = threading.Lock()

    @property
    def messages(self) -> list[PublishedMessage]:
        with self._lock:
            return list(self._kept())

    @from_celery
    def _record(self, sender=None, body=None, headers=None, properties=None, **_):
        headers = headers or {}
        args, kwargs = (body[0], body[1]) if isinstance(body, (list, tuple)) and len(body) >= 2 else ((), {})
        message = PublishedMessage(
            task=headers.get("task") or str(sender), id=headers.get("id", ""),
            args=tuple(args), kwargs=dict(kwargs), headers=dict(headers),
            properties=dict(properties or {}),
        )
        with self._lock:
            self._kept(message)

    # Only _record adds, heard from Celery: a view cannot append a made-up message.
    _kept = SealedField(_record, heard=True)

    def of(self, task_name: str) -> list[PublishedMessage]:
        """The messages of one task, named by where it lives ("music.tasks.fetch_genres"): a
        task defined elsewhere and imported there, or given a name of its own, counts too."""
        names = {task_name, registered_name(task_name)}
        return [m for m in self.messages if m.task in names]

    def __enter__(self) -> "Published":
        before_task_publish.connect(self._record, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        before_task_publish.disconnect(self._record)


def registered_name(dotted: str) -> str:
    """The name Celery knows the task at the Python path ``dotted`` by.

    It is that path, unless the task was defined in another module and imported there (a
    tasks/ package whose __init__.py imports music/tasks/spotify.py's task names it
    "music.tasks.spotify.fetch_spotify_genres") or given a name=... of its own. Only a module
    already imported is read: the checkers import the student's task before they judge it.
    """
    module, _, attribute = dotted.rpartition(".")
    name = getattr(getattr(sys.modules.get(module), attribute, None), "name", None)
    return name if isinstance(name, str) and name else dotted


def sent_instead(app, messages) -> str:
    """What was published instead of the task a check waited for, in words ("" if nothing)."""
    names = sorted({m.task for m in messages})
    unknown = [n for n in names if n not in app.tasks]
    if unknown:
        return (f" It published a message for {', '.join(map(repr, unknown))}: no task has "
                "that name, so the worker drops it with \"Received unregistered task\".")
    return f" It published {', '.join(names)} instead." if names else ""

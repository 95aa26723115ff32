"""Task messages as the worker sees them: taken (decoded, to run) or refused (never run).

``published`` shows what the project hands to Celery, before serialization; this shows what
came off the wire: its content type, and whether the worker accepted it at all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from celery.signals import task_received, task_rejected

from .senders import SealedField, from_celery

__all__ = ["Received", "Taken"]


@dataclass(frozen=True)
class Taken:
    task: str
    id: str
    content_type: str
    args: tuple
    kwargs: dict


class Received:
    """Records, while open (a context manager), each message the worker took or refused."""

    def __init__(self):
        self._changed = threading.Condition()

    @from_celery
    def _on_taken(self, sender=None, request=None, **_):
        taken = Taken(request.name, request.id, request.content_type,
                      tuple(request.args or ()), dict(request.kwargs or {}))
        with self._changed:
            self._taken((request.id, taken))
            self._changed.notify_all()

    @from_celery
    def _on_refused(self, sender=None, message=None, exc=None, **_):
        headers = getattr(message, "headers", None) or {}
        with self._changed:
            self._refused((headers.get("id", ""), str(exc) if exc else "unknown message"))
            self._changed.notify_all()

    # Only the worker's signals add, as (message id, Taken) and (message id, why).
    _taken = SealedField(_on_taken, heard=True)
    _refused = SealedField(_on_refused, heard=True)

    @property
    def taken(self) -> dict[str, Taken]:
        with self._changed:
            return dict(self._taken())

    @property
    def refused(self) -> dict[str, str]:
        """Message id: why the worker refused it, in Celery's words (a copy)."""
        with self._changed:
            return dict(self._refused())

    def wait_for(self, message_id: str, within: float = 5.0) -> Taken | str | None:
        """The message once the worker has seen it: a Taken, the reason it was refused, or
        None if it saw nothing within ``within`` seconds."""
        deadline = time.monotonic() + within
        with self._changed:
            while True:
                taken, refused = dict(self._taken()), dict(self._refused())
                if message_id in taken:
                    return taken[message_id]
                if message_id in refused:
                    return refused[message_id]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def __enter__(self) -> "Received":
        task_received.connect(self._on_taken, weak=False)
        task_rejected.connect(self._on_refused, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        task_received.disconnect(self._on_taken)
        task_rejected.disconnect(self._on_refused)

"""Celery's signals as Celery sends them: the harness's receivers hear only Celery.

The harness learns what the project published, and what the worker took and ran, from Celery's
signals (published.py, received.py, finished.py). Anyone may send a signal: a view that sent
before_task_publish itself, with a made-up message and nothing on the broker, passed "the view
published one send_feedback_email_task message" (and a decoy pushed to the broker would satisfy
the broker witness too). So these receivers ignore a signal unless the code that sent it is
Celery's or kombu's, and what they heard is kept where only they can add to it (``sealed``:
a view that found the Published recorder through the signal's receivers appended a made-up
message to its list, and a thread of its own to Finished.threads). Threads are told apart by
who they are, not by their names (``ThreadName``).
"""

from __future__ import annotations

import functools
import os
import sys
import threading

import celery
import kombu

__all__ = ["ThreadName", "from_celery", "sealed"]

_CELERY = os.path.dirname(celery.__file__) + os.sep
_SENDERS = (_CELERY, os.path.dirname(kombu.__file__) + os.sep)
_DISPATCH = os.path.join(_CELERY, "utils", "dispatch") + os.sep  # Signal.send itself


def from_celery(receiver):
    """``receiver`` (a signal receiver), called only when Celery or kombu sent the signal."""

    @functools.wraps(receiver)
    def heard(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith(_DISPATCH):
            frame = frame.f_back
        if frame is None or not frame.f_code.co_filename.startswith(_SENDERS):
            return None
        return receiver(*args, **kwargs)

    return heard


_HEARD = from_celery(lambda: None).__code__  # every receiver wrapped above runs this code


def sealed(adder, heard: bool = False):
    """An append-only list: ``keep(item)`` adds ``item`` when ``adder`` (a function) calls it,
    and, with ``heard``, only when ``adder`` was called by a ``from_celery`` receiver; else it
    adds nothing. ``keep()`` answers what it holds, as a tuple. The items live in a generator's
    frame, which only attributes the tripwires report can reach. Not thread safe: callers hold
    a lock. Keep immutable items (tuples): an object handed out could be changed."""
    keeping = _keeping(getattr(adder, "__wrapped__", adder).__code__, heard)
    next(keeping)
    return lambda item=None: keeping.send(item)


def _keeping(adder, heard: bool):
    kept, getframe = [], sys._getframe
    answer = ()
    while True:
        item = yield answer
        # 0: this generator, 1: the lambda of sealed(), 2: the adder, 3: from_celery's heard
        if item is not None and getframe(2).f_code is adder and (
                not heard or getframe(3).f_code is _HEARD):
            kept.append(item)
        answer = tuple(kept)


class ThreadName(str):
    """A thread's name that knows which thread it was: a thread of the student's given a
    worker thread's name is not that thread. Equal to a plain string of the same name."""

    def __new__(cls, name: str, ident: int | None):
        self = super().__new__(cls, name)
        self.ident = ident
        return self

    @classmethod
    def current(cls) -> "ThreadName":
        thread = threading.current_thread()
        return cls(thread.name, thread.ident)

    def __eq__(self, other):
        if isinstance(other, ThreadName):
            return str.__eq__(self, other) and self.ident == other.ident
        return str.__eq__(self, other)

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self):
        return hash((str(self), self.ident))

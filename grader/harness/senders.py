"""Celery's signals as Celery sends them: the harness's receivers hear only Celery.

The harness learns what the project published, and what the worker took and ran, from Celery's
signals (published.py, received.py, finished.py). Anyone may send a signal: a view that sent
before_task_publish itself, with a made-up message and nothing on the broker, passed "the view
published one send_feedback_email_task message" (and a decoy pushed to the broker would satisfy
the broker witness too). So these receivers ignore a signal unless the code that sent it is
Celery's or kombu's, and what they heard is kept where only they can add to it (``sealed``:
a view that found the Published recorder through the signal's receivers appended a made-up
message to its list, and a thread of its own to Finished.threads). Threads are told apart by
who they are, not by their names (``ThreadName``). A store an object keeps is a class's
``SealedField``: an instance attribute could be replaced with a function answering made-up
items (a view set Published._kept to one).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import weakref

import celery
import kombu

__all__ = ["SealedField", "ThreadName", "from_celery", "sealed"]

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
    """An append-only list: ``keep(item)`` adds ``item`` when ``adder`` (a function, or a tuple
    of them) calls it, and, with ``heard``, only when ``adder`` was called by a ``from_celery``
    receiver; else it adds nothing. ``keep()`` answers what it holds, as a tuple. The items live
    in a generator's frame, which only attributes the tripwires report can reach (and ``keep``
    holds it as a default argument, whose replacement they report: a closure's cell can be
    set unseen). Not thread safe: callers hold a lock. Keep immutable items (tuples, frozen
    dataclasses): an object handed out could be changed."""
    adders = adder if isinstance(adder, tuple) else (adder,)
    keeping = _keeping(frozenset(getattr(a, "__wrapped__", a).__code__ for a in adders), heard)
    next(keeping)
    return lambda item=None, _send=keeping.send: _send(item)


class SealedField(property):
    """A class attribute that is each instance's own ``sealed(adders, heard)`` store.

    ``self._kept = sealed(...)`` in ``__init__`` can be replaced on the instance by anyone who
    reaches it (a signal's receivers hold it); a property without a setter cannot, and the
    tripwires' snapshot holds the class's properties."""

    def __init__(self, *adders, heard: bool = False):
        registry = _registry(adders, heard)
        next(registry)

        def store(instance, _send=registry.send, _lock=threading.Lock()):
            with _lock:
                return _send(instance)

        super().__init__(store)


def _registry(adders: tuple, heard: bool):
    """Each instance's store, made when first asked for (by the instance's id, while it lives)."""
    stores, ref = {}, weakref.ref
    instance = yield None
    while True:
        entry = stores.get(id(instance))
        if entry is None or entry[0]() is not instance:
            entry = (ref(instance), sealed(adders, heard))
            stores[id(instance)] = entry
        instance = yield entry[1]


def _keeping(adders: frozenset, heard: bool):
    kept, getframe = [], sys._getframe
    answer = ()
    while True:
        item = yield answer
        # 0: this generator, 1: the lambda of sealed(), 2: the adder, 3: from_celery's heard
        if item is not None and getframe(2).f_code in adders and (
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

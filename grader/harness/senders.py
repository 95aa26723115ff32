"""Celery's signals as Celery sends them: the harness's receivers hear only Celery.

The harness learns what the project published, and what the worker took and ran, from Celery's
signals (published.py, received.py, finished.py). Anyone may send a signal: a view that sent
before_task_publish itself, with a made-up message and nothing on the broker, passed "the view
published one send_feedback_email_task message" (and a decoy pushed to the broker would satisfy
the broker witness too). So these receivers ignore a signal unless the code that sent it is
Celery's or kombu's, and what they heard is kept where only they can add to it (``sealed``:
a view that found the Published recorder through the signal's receivers appended a made-up
message to its list).
"""

from __future__ import annotations

import functools
import os
import sys

import celery
import kombu

__all__ = ["from_celery", "sealed"]

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


def sealed():
    """An append-only list: ``keep(item)`` adds ``item`` when called by a receiver wrapped with
    ``from_celery`` (else nothing), ``keep()`` answers what it holds, as a tuple. The items live
    in a generator's frame, which only attributes the tripwires report can reach. Not thread
    safe: callers hold a lock."""
    keeping = _keeping()
    next(keeping)
    return lambda item=None: keeping.send(item)


def _keeping():
    kept, getframe = [], sys._getframe
    answer = ()
    while True:
        item = yield answer
        # 0: this generator, 1: the lambda of sealed(), 2: the receiver, 3: from_celery's heard
        if item is not None and getframe(3).f_code is _HEARD:
            kept.append(item)
        answer = tuple(kept)

"""Celery's signals as Celery sends them: the harness's receivers hear only Celery.

The harness learns what the project published, and what the worker took and ran, from Celery's
signals (published.py, received.py, finished.py). Anyone may send a signal: a view that sent
before_task_publish itself, with a made-up message and nothing on the broker, passed "the view
published one send_feedback_email_task message" (and a decoy pushed to the broker would satisfy
the broker witness too). So these receivers ignore a signal unless the code that sent it is
Celery's or kombu's.
"""

from __future__ import annotations

import functools
import os
import sys

import celery
import kombu

__all__ = ["from_celery"]

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

"""Check failures as data: what was observed, what was expected, and where to read next."""

from __future__ import annotations

import re
from typing import NoReturn

__all__ = ["CheckFailed", "CheckTimedOut", "fail", "expect", "guard", "needs", "sentence",
           "timed"]


class CheckFailed(AssertionError):
    """A check saw something other than what the exercise asks for."""

    def __init__(self, observed: str, expected: str, hint: str | None = None,
                 lesson: str | None = None, timing: bool = False):
        observed, expected, hint = (_one_stop(text) for text in (observed, expected, hint))
        super().__init__(observed)
        self.observed = observed
        self.expected = expected
        self.hint = hint
        self.lesson = lesson
        self.timing = timing


class CheckTimedOut(BaseException):
    """A check ran past its time limit.

    A BaseException, so that a student's ``except Exception`` cannot swallow it.
    """


# "...: {exc}." where the exception's own message ends with a full stop (kombu's and redis-py's
# often do): two stops after a word, never an ellipsis or a ".." in a path.
_DOUBLE_STOP = re.compile(r"(?<=[^.\s/])\.\.(?=\s|$)")


def _one_stop(text):
    return _DOUBLE_STOP.sub(".", text) if isinstance(text, str) else text


def sentence(text: str) -> str:
    """``text`` ending with exactly one full stop (or with its own ``!`` or ``?``).

    Messages built around another one (``f"...: {exc}"``) otherwise end in ".." when ``exc``
    already ends with a full stop, as redis-py's and kombu's often do.
    """
    core = str(text).rstrip().rstrip(".").rstrip()
    if not core or core.endswith(("!", "?", "…")):
        return core
    return core.rstrip(":;,") + "."


def fail(observed: str, expected: str, hint: str | None = None,
         lesson: str | None = None, timing: bool = False) -> NoReturn:
    """Stop the current check with a failure a student can act on.

    ``lesson`` is an anchor in the exercise's lesson (``"#step-2-call-delay"``) or a path under
    ``lessons/`` with an anchor. ``timing=True``, in a check marked ``@timed``: this failure is a
    measured duration over its threshold, which a very busy machine can cause, so the student
    is told to run it again and the grader re-runs it alone. Every other failure (a wrong value,
    a missing setting) says nothing about time.
    """
    raise CheckFailed(observed, expected, hint, lesson, timing)


def expect(condition: object, observed: str, expected: str, hint: str | None = None,
           lesson: str | None = None, timing: bool = False) -> None:
    """Fail with these words unless ``condition`` holds."""
    if not condition:
        fail(observed, expected, hint, lesson, timing)


def needs(*checks):
    """Mark a check to be skipped, with a reason, unless every one of ``checks`` passed.

    (``pytest.mark.needs(some_function)`` would decorate ``some_function`` instead.)
    """
    import pytest  # here, so that the CLI can use this package without loading pytest

    return pytest.mark.needs.with_args(*checks)


def timed(check):
    """Mark a check whose verdict depends on a duration it measures ("answers in under 0.5 s").

    Such a check can fail on a very busy machine: its record says ``"timed": true``; when it
    fails, `make check` suggests running it again, and the instructors' grader runs that
    (submission, exercise) again, alone, and keeps the second result. A generous wait
    (``wait_for(within=5)``) does not make a check timed; a threshold close to what a correct
    answer takes does. Use it bare, above the function: ``@timed``. Only the failures raised with
    ``fail(..., timing=True)`` (or ``expect``), a duration over its threshold, count as timing
    failures; a wrong value in the same check is an ordinary failure.
    """
    import pytest

    return pytest.mark.timed(check)


def guard(check):
    """Mark a check that a project already passes before this exercise (on stage NN-1).

    It still runs, and a failure still fails the exercise (it guards what earlier exercises
    built), but it carries no points and is not counted as passed: points are for the work of
    this exercise. The course's tests prove that stage NN-1 passes no unguarded check of NN.
    Use it bare, above the function: ``@guard``.
    """
    import pytest

    return pytest.mark.guard(check)

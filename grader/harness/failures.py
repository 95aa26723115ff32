"""Check failures as data: what was observed, what was expected, and where to read next."""

from __future__ import annotations

from typing import NoReturn

__all__ = ["CheckFailed", "CheckTimedOut", "fail", "expect", "needs"]


class CheckFailed(AssertionError):
    """A check saw something other than what the exercise asks for."""

    def __init__(self, observed: str, expected: str, hint: str | None = None,
                 lesson: str | None = None):
        super().__init__(observed)
        self.observed = observed
        self.expected = expected
        self.hint = hint
        self.lesson = lesson


class CheckTimedOut(BaseException):
    """A check ran past its time limit.

    A BaseException, so that a student's ``except Exception`` cannot swallow it.
    """


def fail(observed: str, expected: str, hint: str | None = None,
         lesson: str | None = None) -> NoReturn:
    """Stop the current check with a failure a student can act on.

    ``lesson`` is an anchor in the exercise's lesson (``"#step-2-call-delay"``) or a path under
    ``lessons/`` with an anchor.
    """
    raise CheckFailed(observed, expected, hint, lesson)


def expect(condition: object, observed: str, expected: str, hint: str | None = None,
           lesson: str | None = None) -> None:
    """Fail with these words unless ``condition`` holds."""
    if not condition:
        fail(observed, expected, hint, lesson)


def needs(*checks):
    """Mark a check to be skipped, with a reason, unless every one of ``checks`` passed.

    (``pytest.mark.needs(some_function)`` would decorate ``some_function`` instead.)
    """
    import pytest  # here, so that the CLI can use this package without loading pytest

    return pytest.mark.needs.with_args(*checks)

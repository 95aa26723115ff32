"""The checker harness: broker, project loading, worker, outbox, published messages, clock, data.

Checkers use it through its pytest plugin (``grader.harness.plugin``), which exposes each piece
as a fixture; the CLI and the instructors' grader run checkers in their own processes.
"""

from .failures import CheckFailed, expect, fail, guard, needs, timed

__all__ = ["CheckFailed", "expect", "fail", "guard", "needs", "timed"]

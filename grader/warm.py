"""A checker process started ahead of time (``python -m grader.warm <pytest arguments>``).

It imports what every checker run needs (pytest, Django, Celery, the Redis clients, the harness:
about half a second), then waits for a line "go" on its standard input, then runs pytest as
``python -m pytest`` would. `make watch` keeps one ready while the student edits, so a re-check
starts warm. Nothing of the student's project is imported before "go".
"""

from __future__ import annotations

import sys


def _preload() -> None:
    import celery.contrib.testing.worker  # noqa: F401
    import django.test  # noqa: F401
    import fakeredis  # noqa: F401
    import kombu.transport.redis  # noqa: F401
    import pytest  # noqa: F401
    import redis  # noqa: F401
    import requests  # noqa: F401

    import grader.harness.fixtures  # noqa: F401
    import grader.harness.plugin  # noqa: F401


def main(argv: list[str]) -> int:
    _preload()
    if sys.stdin.readline().strip() != "go":
        return 0  # nobody needed this run: the watcher stopped or moved on
    import pytest
    return pytest.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Fixtures for the workshop's own tests: stages on disk, brokers, and running checkers."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.exercises import all_exercises, find_exercise
from grader.harness.broker import BrokerUnreachable, ping
from grader.report import Style, check_lines, summary, timing_failed
from grader.runner import CheckRun, run_checker
from grader.stage import StageError, write_stage

from .services import NO_REDIS, real_redis

LAST_STAGE = int(all_exercises()[-1].number)
# Stage 00 and one stage per exercise that exists: numbers can have gaps (09, then 12), and
# the stage of a missing number would only repeat the one before it.
STAGES = [0, *(int(e.number) for e in all_exercises())]


def stage_before(number: int) -> int:
    """The stage just before exercise ``number``: that of the previous exercise that exists."""
    return max(n for n in STAGES if n < number)


@pytest.fixture(scope="session")
def stages(tmp_path_factory) -> dict[int, Path]:
    """Stage 00 and every exercise's stage, written once."""
    root = tmp_path_factory.mktemp("stages")
    written = {}
    for number in STAGES:
        try:
            write_stage(number, root / f"stage{number:02d}")
        except StageError as exc:  # not a git clone: the course as committed is unknown
            pytest.fail(str(exc), pytrace=False)
        written[number] = root / f"stage{number:02d}"
    return written


@pytest.fixture
def stage_copy(stages, tmp_path):
    """A private copy of stage N, to edit: ``stage_copy(2)``."""

    def copy(number: int) -> Path:
        dest = tmp_path / f"stage{number:02d}"
        shutil.copytree(stages[number], dest)
        return dest

    return copy


# Redis databases the checker tests may use, one per test process (on CI's shared service, two
# suites at once must not share a queue). 11 and 12 belong to the distributed grader's tests.
TEST_DBS = (9, 10, 13, 14, 8, 7)
_claimed: list = []  # lock files held for the whole session


def _redis_db() -> str:
    """A database no other test process on this machine is using: two suites at once (or two
    xdist workers) would otherwise flush and consume each other's queues."""
    server = real_redis()
    if server is None:
        pytest.skip(NO_REDIS)
    for db in TEST_DBS:
        lock = open(Path(tempfile.gettempdir()) / f"encore-tests-redis-db-{db}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        _claimed.append(lock)  # released when this process ends
        return f"{server}/{db}"
    pytest.skip(f"every test database of {server} ({TEST_DBS}) is in use by other "
                "test runs on this machine")


@pytest.fixture(scope="session", params=["embedded", "redis"])
def broker_url(request):
    """Each checker test runs on the embedded broker and on the real Redis."""
    if request.param == "embedded":
        return None
    url = _redis_db()
    try:
        ping(url).close()
    except BrokerUnreachable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real Redis: {exc}")
        pytest.skip(f"no real Redis here: {exc}")
    return url


def render(run: CheckRun) -> str:
    style = Style(False)
    lines = [line for record in run.checks for line in check_lines(record, style)]
    return "\n".join(lines + summary(run, "-", style) + ["--- log ---", run.log])


def check(exercise: str, project: Path, broker: str | None = None, **kwargs) -> CheckRun:
    """Run one exercise's checker on ``project`` the way `make check` does.

    A run whose only failures are timing checks (a duration over its threshold, which a loaded
    machine causes) runs once more with the same seed, as the instructors' grader does.
    """
    seed = kwargs.pop("seed", random.randrange(1, 100_000))
    run = run_checker(find_exercise(exercise), project, broker=broker, seed=seed, **kwargs)
    failed = [c for c in run.checks if c["status"] in ("failed", "error", "timed out")]
    if failed and len(timing_failed(run.checks)) == len(failed):
        run = run_checker(find_exercise(exercise), project, broker=broker, seed=seed, **kwargs)
    return run


def failed_check(run: CheckRun, title_part: str) -> dict:
    """The check whose title contains ``title_part``; it must not have passed."""
    matches = [c for c in run.checks if title_part in c["title"]]
    assert matches, f"no check titled like {title_part!r}:\n{render(run)}"
    record = matches[0]
    assert record["status"] in ("failed", "error", "timed out"), render(run)
    assert not run.passed, render(run)
    return record


def words(record: dict) -> str:
    """Everything a student reads about one check, as one string."""
    return " ".join(str(record.get(k) or "") for k in ("observed", "expected", "hint", "details"))

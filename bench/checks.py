"""How long ``make check`` takes: exercise 02 against its floor, and every exercise on its stage.

The floor is what any process that loads the project pays before a check can start: Python,
Django, Celery, redis, fakeredis and pytest imported, and ``django.setup()`` on the project.
The checker also waits out a 1 s email delay on purpose (exercise 02 checks that the view does
not wait for it), so the check's own overhead is its time minus 1 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.exercises import REPO, all_exercises
from grader.stage import write_stage

from . import PYTHON, BenchError, child_env, run_timed, tail

CHECK_TIMEOUT = 120.0  # the checker stops itself after 90 s; this only catches a stuck CLI
FLOOR_TIMEOUT = 60.0
EMAIL_DELAY = 1.0  # exercises/02-offload-feedback-email/check.py: EMAIL_DELAY

# What the floor process runs: the imports every checker pays for, then Django's set-up.
FLOOR_CODE = "import django, celery, redis, fakeredis, pytest; django.setup()"


@dataclass
class CheckTimes:
    check: list[float]  # seconds per `python -m grader check 02` run
    floor: list[float]  # seconds per start-up of Python + Django + Celery on the project


def time_check(number: str, workdir: Path, runs: int) -> list[float]:
    """Seconds for each of ``runs`` runs of ``make check EX=number`` on a fresh stage ``number``."""
    project = workdir / f"check-stage-{number}"
    if not project.exists():
        write_stage(int(number), project)
    log = workdir / f"check-{number}.log"
    times = []
    for seed in range(1, runs + 1):  # fixed seeds: two bench runs check the same data
        argv = [PYTHON, "-m", "grader", "check", number, "--project", str(project),
                "--seed", str(seed)]
        # No REDIS_URL in child_env: the checker uses its embedded broker, as most students do.
        seconds, status = run_timed(argv, REPO, child_env(), log, CHECK_TIMEOUT)
        if status != 0:
            raise BenchError(f"`make check EX={number}` did not pass on stage {number} (seed "
                             f"{seed}, exit status {status}), so its time means nothing. Its "
                             f"output:\n{tail(log)}")
        times.append(seconds)
    return times


def every_exercise(workdir: Path, runs: int) -> dict[str, list[float]]:
    """``make check EX=NN`` times for every exercise, each on its own stage."""
    return {exercise.number: time_check(exercise.number, workdir, runs)
            for exercise in all_exercises()}


def measure(workdir: Path, runs: int) -> CheckTimes:
    """Time ``runs`` checks of exercise 02 on a fresh stage 02, and ``runs`` bare start-ups."""
    project = workdir / "check-stage-02"
    check = time_check("02", workdir, runs)
    floor = []
    env = child_env(DJANGO_SETTINGS_MODULE="config.settings",
                    DATABASE_URL=f"sqlite:///{(workdir / 'floor.sqlite3').as_posix()}")
    for _ in range(runs):
        # cwd is the project: `python -c` puts it first on sys.path, as manage.py would.
        seconds, status = run_timed([PYTHON, "-c", FLOOR_CODE], project, env,
                                    workdir / "floor.log", FLOOR_TIMEOUT)
        if status != 0:
            raise BenchError("Python could not even load the stage 02 project:\n"
                             + tail(workdir / "floor.log"))
        floor.append(seconds)
    return CheckTimes(check, floor)

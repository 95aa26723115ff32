"""Stages of the project: stage NN is the starter with solutions 01..NN applied in order."""

from __future__ import annotations

import shutil
from pathlib import Path

from .exercises import REPO, all_exercises

__all__ = ["StageError", "write_stage"]

_LEAVE_OUT = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "db.sqlite3", ".env", "celerybeat-schedule*", ".pytest_cache")


class StageError(Exception):
    pass


def write_stage(number: int, dest: Path, repo: Path = REPO) -> list[str]:
    """Write stage ``number`` to ``dest`` (new or empty); return the solutions applied."""
    exercises = all_exercises(repo)
    last = int(exercises[-1].number) if exercises else 0
    if not 0 <= number <= last:
        raise StageError(f"There is no stage {number:02d}: stages go from 00 (the starter) "
                         f"to {last:02d}.")
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise StageError(f"{dest} already exists and is not empty: choose a new folder.")
    shutil.copytree(repo / "starter_project", dest, ignore=_LEAVE_OUT, dirs_exist_ok=True)
    applied = []
    for exercise in (e for e in exercises if int(e.number) <= number):
        shutil.copytree(exercise.solution, dest, ignore=_LEAVE_OUT, dirs_exist_ok=True)
        applied.append(exercise.name)
    return applied

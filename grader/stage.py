"""Stages of the project: stage NN is the starter with solutions 01..NN applied in order.

Stages are built from the course as committed in git (``starter_project/`` and ``solutions/``
at HEAD), never from the working folder, where a student's own edits live: a stuck student who
asks for stage 03 gets stage 03, whatever their copy of the starter holds. Maintainers writing
a solution that is not committed yet can set ``ENCORE_STAGES=worktree``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .exercises import REPO, all_exercises

__all__ = ["StageError", "committed_course", "write_stage"]

_LEAVE_OUT = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "db.sqlite3", ".env", "celerybeat-schedule*", ".pytest_cache")
_PARTS = ("starter_project", "solutions")
NO_GIT = ("Stages are built from the course as committed in git, and {repo} is not a git clone "
          "(a zip download?), so the stage cannot be told apart from your own edits. Clone "
          "the course with `git clone` to use stages.")


class StageError(Exception):
    pass


def _git(repo: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True,
                              timeout=60).stdout
    except FileNotFoundError:
        raise StageError(NO_GIT.format(repo=repo) + " (git is not installed.)") from None
    except subprocess.CalledProcessError:
        raise StageError(NO_GIT.format(repo=repo)) from None
    except subprocess.TimeoutExpired:
        raise StageError(f"git did not answer within 60 s in {repo}.") from None


def committed_course(repo: Path = REPO) -> Path:
    """A folder holding ``starter_project/`` and ``solutions/`` exactly as committed at HEAD.

    Extracted once per committed version into ``.cache/course/``; with ``ENCORE_STAGES=worktree``
    it is the working folder itself.
    """
    if os.environ.get("ENCORE_STAGES") == "worktree":
        return repo
    trees = _git(repo, "rev-parse", *(f"HEAD:{part}" for part in _PARTS)).split()
    key = "-".join(t.decode()[:12] for t in trees)
    folder = repo / ".cache" / "course" / key
    if folder.is_dir():
        return folder
    archive = _git(repo, "archive", "--format=tar", "HEAD", "--", *_PARTS)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=folder.parent))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(partial, filter="data")
    try:
        partial.rename(folder)  # atomic: a parallel run never sees half a course
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)  # another run got there first
    return folder


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
    course = committed_course(repo)
    applied = []
    wanted = [e for e in exercises if int(e.number) <= number]
    for exercise in wanted:
        if not (course / "solutions" / exercise.name).is_dir():
            raise StageError(f"solutions/{exercise.name} is not committed, so stage "
                             f"{number:02d} cannot be built.")
    shutil.copytree(course / "starter_project", dest, ignore=_LEAVE_OUT, dirs_exist_ok=True)
    for exercise in wanted:
        shutil.copytree(course / "solutions" / exercise.name, dest, ignore=_LEAVE_OUT,
                        dirs_exist_ok=True)
        applied.append(exercise.name)
    return applied

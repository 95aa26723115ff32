"""Results kept between grading runs, keyed by what decides them.

A run's result depends on the project's content, the checker (the instructor's grader/ and the
exercise's folder), the seed and the limits; the key hashes all of them, so a changed checker
or a changed submission is graded again and nothing else is.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from ..exercises import REPO, find_exercise

__all__ = ["ResultCache", "checker_version", "run_key"]


def _hash_tree(digest, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())


# What decides a run's result, besides the project: the harness, how a checker is run and
# fenced, and the exercise's own folder. The rest of grader/ (the CLI, the report, this
# package's bookkeeping) does not, and changing it keeps the cache.
DECIDING = ("grader/harness", "grader/runner.py", "grader/exercises.py",
            "grader/grade/sandbox.py", "grader/grade/zygote.py")


@functools.cache
def checker_version(exercise: str) -> str:
    """A hash of the instructor's checker code and exercises/NN-slug/ as they are on disk."""
    digest = hashlib.sha256()
    for part in DECIDING:
        path = REPO / part
        if path.is_dir():
            _hash_tree(digest, path)
        elif path.is_file():
            digest.update(part.encode() + b"\0" + path.read_bytes())
    _hash_tree(digest, find_exercise(exercise).path)
    return digest.hexdigest()[:16]


def run_key(content_hash: str, exercise: str, seed: int, limits: dict) -> str:
    text = json.dumps([content_hash, exercise, checker_version(exercise), seed, limits],
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResultCache:
    """One JSON file per run result, in ``folder``; written atomically."""

    def __init__(self, folder: Path, fresh: bool = False):
        self.folder, self.fresh = folder, fresh
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> dict | None:
        if self.fresh:
            return None
        try:
            return json.loads((self.folder / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, result: dict) -> None:
        partial = self.folder / f"{key}.{os.getpid()}.tmp"
        partial.write_text(json.dumps(result))
        partial.replace(self.folder / f"{key}.json")

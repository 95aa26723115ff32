"""The course's exercises, found by their folders: exercises/NN-slug/ with check.py."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

__all__ = ["REPO", "Exercise", "UnknownExercise", "all_exercises", "find_exercise"]

REPO = Path(__file__).resolve().parents[1]
_FOLDER = re.compile(r"^(\d\d)-([a-z0-9-]+)$")


class UnknownExercise(Exception):
    pass


@dataclass(frozen=True)
class Exercise:
    number: str
    slug: str
    path: Path

    @property
    def name(self) -> str:
        return f"{self.number}-{self.slug}"

    @cached_property
    def meta(self) -> dict:
        file = self.path / "exercise.toml"
        return tomllib.loads(file.read_text()) if file.is_file() else {}

    @property
    def title(self) -> str:
        return self.meta.get("title", self.slug.replace("-", " ").capitalize())

    @property
    def checker(self) -> Path:
        return self.path / "check.py"

    @property
    def lesson(self) -> Path:
        return REPO / "lessons" / f"{self.name}.md"

    @property
    def solution(self) -> Path:
        return REPO / "solutions" / self.name


def all_exercises(repo: Path = REPO) -> list[Exercise]:
    """Every exercise with a checker, in course order."""
    found = []
    for folder in sorted((repo / "exercises").iterdir()):
        match = _FOLDER.match(folder.name)
        if match and (folder / "check.py").is_file():
            found.append(Exercise(match[1], match[2], folder))
    return found


def find_exercise(wanted: str, repo: Path = REPO) -> Exercise:
    """The exercise named by ``wanted``: "2", "02" or "02-offload-feedback-email"."""
    exercises = all_exercises(repo)
    key = wanted.strip()
    if key.isdigit():
        key = f"{int(key):02d}"
    for exercise in exercises:
        if key in (exercise.number, exercise.name):
            return exercise
    known = ", ".join(e.number for e in exercises)
    raise UnknownExercise(f"There is no exercise {wanted!r}. The exercises are: {known}.")

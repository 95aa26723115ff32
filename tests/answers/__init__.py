"""Other answers than the reference solution, one module per exercise: tests/answers/exNN.py.

Each module has a list WRONG (typical mistakes, each failing one check with the words a student
needs) and may have a list RIGHT (correct answers written differently from the solution, which
must pass: checkers test behaviour, not spelling).

An answer is a stage with a few edits. Each edit names text that must be in the file, so when a
solution changes, the edit fails loudly instead of silently testing nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Right", "Wrong", "all_right", "all_wrong", "apply", "as_package", "EAGER",
           "DELAY_CALL"]


@dataclass
class Wrong:
    exercise: str
    why: str
    edits: list[tuple[str, str, str]]  # (file, old text, new text); old "" appends
    fails: str  # part of the failing check's title
    says: str  # words the failure must contain
    stage: int = 0  # the stage the edits apply to; default: the exercise's own
    seed: int = 0  # a fixed seed, for a mistake only some seeds reveal (0: a random one)

    def __post_init__(self):
        self.stage = self.stage or int(self.exercise)


@dataclass
class Right:
    exercise: str
    why: str
    edits: list[tuple[str, str, str]]  # as for Wrong
    stage: int = 0
    seed: int = 0  # as for Wrong

    def __post_init__(self):
        self.stage = self.stage or int(self.exercise)


def apply(project: Path, edits) -> None:
    """Make the edits to the project at ``project``."""
    for name, old, new in edits:
        path = project / name
        text = path.read_text() if path.exists() else ""
        if old:
            assert old in text, f"{name} no longer contains {old!r}: update this wrong answer"
            text = text.replace(old, new)
        else:
            text += new
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _collect(name: str) -> list:
    found = []
    for module in sorted(Path(__file__).parent.glob("ex[0-9][0-9].py")):
        found += getattr(importlib.import_module(f"{__name__}.{module.stem}"), name, [])
    return found


def all_wrong() -> list[Wrong]:
    """Every exercise's wrong answers, in exercise order."""
    return _collect("WRONG")


def all_right() -> list[Right]:
    """Every exercise's other correct answers, in exercise order."""
    return _collect("RIGHT")


def as_package(solution: str, app: str, module: str) -> list[tuple[str, str, str]]:
    """Edits that move ``app``/tasks.py, as solution ``solution`` ("05-signals-on-commit") left
    it, into a package: ``app``/tasks/``module``.py, whose tasks then bear that module's name
    ("music.tasks.albums.send_album_congratulations"), and a tasks/__init__.py that imports
    them. The emptied tasks.py stays; Python imports the package in its place."""
    solutions = Path(__file__).resolve().parents[2] / "solutions"
    text = (solutions / solution / app / "tasks.py").read_text()
    moved = text.replace("\nfrom .", "\nfrom ..")
    return [(f"{app}/tasks.py", text, ""),
            (f"{app}/tasks/{module}.py", "", moved),
            (f"{app}/tasks/__init__.py", "", f"from .{module} import *  # noqa: F401,F403\n")]


EAGER = "\nCELERY_TASK_ALWAYS_EAGER = True\n"
DELAY_CALL = ('send_feedback_email_task.delay(\n                form.cleaned_data["email"], '
              'form.cleaned_data["message"]\n            )')

"""`make hint EX=NN`: the exercise's hints one at a time, as a student asks for them.

Hints live in ``exercises/NN-slug/hints.md`` as ``<details><summary>title</summary>…</details>``
blocks. How many a student has seen is remembered in ``.cache/hints/`` (ignored by git), so each
`make hint` shows one more; ``--reset`` starts again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .exercises import REPO, Exercise

__all__ = ["Hint", "hints_of", "next_hint", "reset"]

_BLOCK = re.compile(r"<details>\s*<summary>(?P<title>.*?)</summary>(?P<body>.*?)</details>",
                    re.DOTALL)


@dataclass
class Hint:
    title: str
    body: str


def hints_of(exercise: Exercise) -> list[Hint]:
    file = exercise.path / "hints.md"
    text = file.read_text() if file.is_file() else ""
    return [Hint(m["title"].strip(), m["body"].strip()) for m in _BLOCK.finditer(text)]


def _seen_file(exercise: Exercise) -> Path:
    folder = os.environ.get("ENCORE_HINTS_DIR") or REPO / ".cache" / "hints"
    return Path(folder) / exercise.name


def reset(exercise: Exercise) -> None:
    _seen_file(exercise).unlink(missing_ok=True)


def next_hint(exercise: Exercise) -> list[str]:
    """The lines to print: the hints seen so far by title, then the next one in full."""
    hints = hints_of(exercise)
    if not hints:
        return [f"Exercise {exercise.number} has no hints. Its lesson is "
                f"{exercise.lesson.relative_to(REPO)}."]
    file = _seen_file(exercise)
    try:
        seen = int(file.read_text())
    except (OSError, ValueError):
        seen = 0
    shown = min(seen + 1, len(hints))
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(str(shown))
    lines = [f"Hints for exercise {exercise.number} · {exercise.title}"]
    lines += [f"  (seen) {hint.title}" for hint in hints[:shown - 1]]
    hint = hints[shown - 1]
    lines += ["", f"{hint.title}  [{shown} of {len(hints)}]", ""]
    lines += ["  " + line if line else "" for line in hint.body.splitlines()]
    lines.append("")
    if shown < len(hints):
        lines.append(f"Try it, then `make check EX={exercise.number}`. Still stuck? "
                     f"`make hint EX={exercise.number}` shows the next hint.")
    else:
        lines.append(f"That was the last hint. `make solution EX={exercise.number}` shows the "
                     "reference solution as a diff against your project, and applies it only "
                     f"if you say so. `make hint EX={exercise.number} RESET=1` starts the hints "
                     "again.")
    return lines

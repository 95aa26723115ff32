"""`make solution EX=NN`: the reference solution as a diff against the student's project.

It changes nothing unless the student says yes (or passes ``--yes``); before applying, it keeps
a backup of every file it replaces in ``.cache/backups/`` (ignored by git), which ``--restore``
puts back. The solution comes from the course as committed in git (grader/stage.py).
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import time
from pathlib import Path

from .exercises import REPO, Exercise
from .stage import committed_course

__all__ = ["differences", "apply", "restore", "diff_lines"]



def _backups() -> Path:
    return Path(os.environ.get("ENCORE_BACKUPS_DIR") or REPO / ".cache" / "backups")


def _files(exercise: Exercise) -> list[Path]:
    folder = committed_course() / "solutions" / exercise.name
    return sorted(f.relative_to(folder) for f in folder.rglob("*")
                  if f.is_file() and "__pycache__" not in f.parts)


def _text(path: Path) -> str | None:
    return path.read_text(errors="replace") if path.is_file() else None


def differences(exercise: Exercise, project: Path) -> dict[Path, tuple[str | None, str]]:
    """{relative path: (the student's text or None, the solution's text)} where they differ."""
    folder = committed_course() / "solutions" / exercise.name
    found = {}
    for rel in _files(exercise):
        mine, theirs = _text(project / rel), (folder / rel).read_text(errors="replace")
        if mine != theirs:
            found[rel] = (mine, theirs)
    return found


def diff_lines(changes: dict, exercise: Exercise, paint=lambda text, code: text) -> list[str]:
    lines = []
    for rel, (mine, theirs) in changes.items():
        if mine is None:
            lines.append(paint(f"new file {rel} ({len(theirs.splitlines())} lines)", "1"))
        for line in difflib.unified_diff(
                (mine or "").splitlines(), theirs.splitlines(),
                f"your {rel}" if mine is not None else "/dev/null",
                f"solution {exercise.number}: {rel}", lineterm=""):
            code = {"+": "32", "-": "31", "@": "36"}.get(line[:1], "0")
            lines.append(paint(line, code) if not line.startswith(("+++", "---")) else
                         paint(line, "1"))
    return lines


def apply(exercise: Exercise, project: Path, changes: dict) -> Path:
    """Write the solution's files over the project, after backing up what they replace."""
    backup = _backups() / f"{exercise.number}-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6:06d}"
    backup.mkdir(parents=True)
    manifest = {"project": str(project.resolve()), "exercise": exercise.number,
                "replaced": [], "created": []}
    for rel, (mine, theirs) in changes.items():
        target = project / rel
        if mine is not None:
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, backup / rel)
            manifest["replaced"].append(str(rel))
        else:
            manifest["created"].append(str(rel))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(theirs)
    (backup / "backup.json").write_text(json.dumps(manifest, indent=1))
    return backup


def restore(exercise: Exercise, project: Path) -> tuple[Path | None, list[str]]:
    """Put back the newest backup of this exercise for this project; (its folder, files)."""
    project = project.resolve()
    for backup in sorted(_backups().glob(f"{exercise.number}-*"), reverse=True):
        try:
            manifest = json.loads((backup / "backup.json").read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("project") != str(project):
            continue
        for rel in manifest["replaced"]:
            shutil.copy2(backup / rel, project / rel)
        for rel in manifest["created"]:
            (project / rel).unlink(missing_ok=True)
        shutil.rmtree(backup)
        return backup, manifest["replaced"] + manifest["created"]
    return None, []

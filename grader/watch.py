"""`make watch EX=NN`: check the exercise again each time a file of the project is saved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .exercises import Exercise

__all__ = ["watch_project", "snapshot"]

_WATCHED = {".py", ".html", ".js", ".css", ".txt", ".env", ".toml", ".json"}
_SKIPPED = {"__pycache__", ".git", ".venv", "node_modules", "staticfiles", "media"}
POLL = 0.25  # seconds between looks at the files
SETTLE = 0.15  # an editor may write a file in several steps: wait until they are done


def snapshot(project: Path) -> dict[str, float]:
    """Every watched file of the project and its modification time."""
    found = {}
    for path in project.rglob("*"):
        if _SKIPPED.intersection(path.relative_to(project).parts):
            continue
        if path.is_file() and (path.suffix in _WATCHED or path.name == ".env"):
            try:
                found[str(path)] = path.stat().st_mtime_ns
            except OSError:
                continue
    return found


def _changed(before: dict, after: dict, project: Path) -> list[str]:
    names = [p for p in after.keys() | before.keys() if before.get(p) != after.get(p)]
    return sorted(str(Path(p).relative_to(project)) for p in names)


def watch_project(exercise: Exercise, project: Path, check_once: Callable[[], bool],
                  clear: bool = True) -> int:
    """Run ``check_once`` now and after every save, until Ctrl-C (then exit status 0)."""
    project = project.resolve()
    try:
        files = snapshot(project)
        while True:
            if clear:
                print("\033[2J\033[H", end="")
            check_once()
            print(f"\nWatching {project.name}/ for changes: save a file to check exercise "
                  f"{exercise.number} again, Ctrl-C to stop.", flush=True)
            while True:
                time.sleep(POLL)
                now = snapshot(project)
                if now != files:
                    time.sleep(SETTLE)
                    now = snapshot(project)
                    changed = _changed(files, now, project)
                    files = now
                    if changed:
                        print(f"Changed: {', '.join(changed[:5])}", flush=True)
                        break
    except KeyboardInterrupt:
        print("\nStopped watching.")
        return 0

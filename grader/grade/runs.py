"""One (submission, exercise) run's result as plain data: what travels, is cached and is saved."""

from __future__ import annotations

from pathlib import Path

from ..exercises import find_exercise
from ..runner import CHECK_LIMIT, DEFAULT_LIMIT, LOAD_LIMIT, CheckRun

__all__ = ["as_data", "from_data", "failed_run", "DEFAULT_LIMITS"]

# A run's limits, as a job carries them (``python -m grader grade`` --timeout, --memory, ...).
DEFAULT_LIMITS = {"limit": DEFAULT_LIMIT, "load_limit": LOAD_LIMIT, "check_limit": CHECK_LIMIT,
                  "memory_mb": 1024, "processes": 128, "output_bytes": 1 << 20}

_FIELDS = ("seed", "records", "broker", "duration", "outcome", "problem", "log", "forged",
           "tripwires", "witness")


def as_data(run: CheckRun, notes: list[str] | None = None) -> dict:
    data = {name: getattr(run, name) for name in _FIELDS}
    data.update(exercise=run.exercise.number, notes=list(notes or []))
    return data


def from_data(data: dict, project: Path) -> CheckRun:
    run = CheckRun(find_exercise(data["exercise"]), Path(project), data["seed"])
    for name in _FIELDS[1:]:
        if name in data:
            setattr(run, name, data[name])
    return run


def failed_run(exercise: str, seed: int, problem: str) -> dict:
    """The result of a run the grader itself could not carry out."""
    return {"exercise": exercise, "seed": seed, "records": [], "broker": "", "duration": 0.0,
            "outcome": "crashed", "problem": problem, "log": "", "notes": [], "forged": [],
            "tripwires": [], "witness": {}}

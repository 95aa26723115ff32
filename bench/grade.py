"""``python -m bench.grade`` (``make bench-grade``): grade a class of 60 built from the stages.

Prints the wall time of grading 60 submissions × exercises 01-03 with --jobs 2, the median time
of one (submission, exercise) run next to the median of one `make check` run of the same
exercise on the same stage, and the time of a re-run with nothing changed (all from the cache).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.exercises import REPO
from grader.grade.cli import pick_exercises
from grader.stage import write_stage

CLASS_SIZE = 60
EXERCISES = "01-03"
STAGES = (0, 1, 2, 3)


def _grade(folder: Path, out: Path) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out),
                    "--exercises", EXERCISES, "--jobs", "2"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    return time.monotonic() - started


def _make_check(exercise: str, project: Path) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "check", exercise, "--project", str(project),
                    "--seed", "1"], cwd=REPO, stdout=subprocess.DEVNULL, timeout=300)
    return time.monotonic() - started


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        root = Path(tmp)
        for n in range(CLASS_SIZE):
            write_stage(STAGES[n % len(STAGES)], root / "class" / f"student{n:02d}")
        print(f"A class of {CLASS_SIZE} (stages {', '.join(f'{s:02d}' for s in STAGES)}, in "
              f"turn) × exercises {EXERCISES}, --jobs 2, on this machine:", flush=True)
        wall = _grade(root / "class", root / "out")
        rerun = _grade(root / "class", root / "out")
        data = json.loads((root / "out" / "results.json").read_text())
        print(f"  grading wall time           {wall:6.1f} s   (target: under 90 s)")
        print(f"  re-run, nothing changed     {rerun:6.1f} s   (target: a few seconds)")
        again = sum(1 for s in data["students"] for e in s["exercises"] if e.get("rerun"))
        print(f"  runs re-run alone           {again:6d}     (a timing check failed in them)")
        print("  per run, median (s)         grade   make check   ratio (target: under 2)")
        for number in [e.number for e in pick_exercises(EXERCISES)]:
            for stage in (STAGES[-1], STAGES[0]):
                runs = [e["duration"] for s in data["students"] for e in s["exercises"]
                        if e["number"] == number
                        and int(s["name"][-2:]) % len(STAGES) == STAGES.index(stage)]
                checks = [_make_check(number, root / "class" / f"student{STAGES.index(stage):02d}")
                          for _ in range(3)]
                graded, alone = statistics.median(runs), statistics.median(checks)
                print(f"  exercise {number} on stage {stage:02d}     {graded:6.2f}   "
                      f"{alone:10.2f}   {graded / alone:5.2f}")
    print("Every figure is from this one run; a busy machine can double any of them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.grade`` (``make bench-grade``): grade a class built from the stages.

    python -m bench.grade                         # 60 students x 01-03, stages 00-03 in turn
    python -m bench.grade --size 100 --exercises 01-08 --stages 0-8    # the class of 100
    make bench-grade SIZE=100 EXERCISES=01-08

Prints the wall time of grading the class with --jobs 2 (from nothing: the fork server's start,
the warm-up and the witness's reference runs included), the CPU time per run (the checker's
process and the keeper that serves its broker), the runs re-run alone and the runs flagged
(an honest class must have none), and the time of a re-run with nothing changed. ``--compare``
adds the median time of one run next to one `make check` of the same exercise and stage.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.exercises import REPO
from grader.grade.cli import pick_exercises
from grader.stage import write_stage


def _grade(folder: Path, out: Path, exercises: str, jobs: int) -> tuple[float, float]:
    """Wall time and CPU time (the grader, its fork server and every run) of one grading."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out),
                    "--exercises", exercises, "--jobs", str(jobs)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def _make_check(exercise: str, project: Path) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "check", exercise, "--project", str(project),
                    "--seed", "1"], cwd=REPO, stdout=subprocess.DEVNULL, timeout=300)
    return time.monotonic() - started


def _stages(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grade")
    parser.add_argument("--size", type=int, default=60)
    parser.add_argument("--exercises", default="01-03")
    parser.add_argument("--stages", default="", help="e.g. 0-8 (default: 00 to the last "
                        "exercise graded)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    numbers = [e.number for e in pick_exercises(args.exercises)]
    stages = _stages(args.stages or f"0-{int(numbers[-1])}")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        root = Path(tmp)
        for n in range(args.size):
            write_stage(stages[n % len(stages)], root / "class" / f"student{n:03d}")
        print(f"A class of {args.size} (stages {stages[0]:02d}-{stages[-1]:02d} in turn) × "
              f"exercises {args.exercises}, --jobs {args.jobs}; load average {load:.1f} at "
              "the start:", flush=True)
        wall, spent = _grade(root / "class", root / "out", args.exercises, args.jobs)
        load_during = os.getloadavg()[0]
        rerun, _ = _grade(root / "class", root / "out", args.exercises, args.jobs)
        data = json.loads((root / "out" / "results.json").read_text())
        runs = [e for s in data["students"] for e in s["exercises"]]
        cpu = [e.get("cpu", 0.0) for e in runs]
        print(f"  grading wall time           {wall:6.1f} s   for {len(runs)} runs "
              f"({wall / max(len(runs), 1):.2f} s a run)")
        print(f"  load average at its end     {load_during:6.1f}")
        print(f"  CPU, all of it              {spent:6.0f} s   (grader, fork server, warm-up, "
              f"runs: {spent / max(len(runs), 1):.2f} s a run)")
        print(f"  re-run, nothing changed     {rerun:6.1f} s")
        again = [(s["name"], e) for s in data["students"] for e in s["exercises"] if e.get("rerun")]
        print(f"  runs re-run alone           {len(again):6d}")
        for name, e in again[:10]:
            print(f"    {name} {e['number']}: {e['rerun'][:150]}")
        print(f"  runs flagged                {sum(1 for e in runs if e['integrity']['flagged']):6d}"
              "     (an honest class: 0)")
        if any(cpu):
            print(f"  CPU per run                 median {statistics.median(cpu):.2f} s, mean "
                  f"{statistics.mean(cpu):.2f} s, total {sum(cpu):.0f} s")
        if args.compare:
            print("  per run, median (s)         grade   make check   ratio")
            for number in numbers:
                for stage in (stages[-1], stages[0]):
                    index = stages.index(stage)
                    took = [e["duration"] for s in data["students"] for e in s["exercises"]
                            if e["number"] == number and int(s["name"][-3:]) % len(stages) == index]
                    checks = [_make_check(number, root / "class" / f"student{index:03d}")
                              for _ in range(3)]
                    graded, alone = statistics.median(took), statistics.median(checks)
                    print(f"  exercise {number} on stage {stage:02d}     {graded:6.2f}   "
                          f"{alone:10.2f}   {graded / alone:5.2f}")
    print(f"Load average {os.getloadavg()[0]:.1f} at the end. Every figure is from this one "
          "run; a busy machine can double any of them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

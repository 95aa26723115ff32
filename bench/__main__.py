"""``python -m bench`` (``make bench``): measure, then print one table; exit 0.

Every figure comes from this one run on this machine; the table says so, because a busy
machine can double any of them. The feedback part also draws its posts, before and after
exercise 02, into docs/images/feedback-latency.svg (bench/plot.py). Missing a target is
reported, not an error: the exit status is 1 only when a measurement could not be taken at all,
or the plot could not be written.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

from grader.stage import StageError

from . import BenchError, median, p90, runs
from . import checks, compare, feedback

# The issues' targets.
CHECK_TARGET = 2.0  # seconds: median of `make check EX=02`
EXERCISE_TARGETS = {f"{n:02d}": 3.0 for n in range(4, 9)}  # seconds: `make check EX=04`..08
POST_TARGET = 0.050  # seconds: median POST /feedback/ after exercise 02
POSTS = {0: 3, 2: 20}  # before: each post waits out the 2 s email; after: enqueued at once
REPO = Path(__file__).resolve().parents[1]
PLOT = REPO / "docs" / "images" / "feedback-latency.svg"  # drawn by the feedback part


def _say(text: str) -> None:
    print(text, flush=True)


def _verdict(value: float, target: float) -> str:
    return "✓ met" if value < target else "✗ missed"


def _row(name: str, values: list[float], unit: str, target: str = "", verdict: str = "",
         spread: bool = True, with_p90: bool = False) -> str:
    scale, digits = (1000, 0) if unit == "ms" else (1, 2)

    def cell(seconds: float | None) -> str:
        return "" if seconds is None else f"{seconds * scale:.{digits}f} {unit}"

    cells = [cell(median(values)),
             cell(min(values) if spread else None), cell(max(values) if spread else None),
             cell(p90(values) if with_p90 else None)]
    return (f"  {name:<46}" + "".join(f"{c:>10}" for c in cells)
            + f"  {target:<8} {verdict}").rstrip()


HEADER = (f"  {'measure':<46}" + "".join(f"{h:>10}" for h in ("median", "min", "max", "p90"))
          + "  target")


def table(check: checks.CheckTimes, before: feedback.FeedbackTimes,
          after: feedback.FeedbackTimes) -> list[str]:
    """The figures, one row each, with the targets beside them."""
    n = len(check.check)
    check_median, floor_median = median(check.check), median(check.floor)
    overhead = check_median - checks.EMAIL_DELAY
    post_median = median(after.latencies)
    return [
        HEADER,
        _row(f"make check EX=02 on stage 02 ({n} runs)", check.check, "s", "< 2 s",
             _verdict(check_median, CHECK_TARGET)),
        _row(f"  floor: Python+Django+Celery start-up ({n} runs)", check.floor, "s"),
        f"  {'  overhead: check median − 1.0 s email delay':<46}{overhead:>8.2f} s"
        f"  = floor + {overhead - floor_median:.2f} s",
        _row(f"POST /feedback/ before ex. 02, stage 00 ({len(before.latencies)})",
             before.latencies, "ms", with_p90=True),
        _row(f"POST /feedback/ after ex. 02, stage 02 ({len(after.latencies)})",
             after.latencies, "ms", "< 50 ms", _verdict(post_median, POST_TARGET),
             with_p90=True),
        f"  {'  before ÷ after (medians)':<46}{median(before.latencies) / post_median:>8.0f} ×"
        + (f"   ({after.waiting} emails still queued behind the busy worker)"
           if after.waiting is not None else ""),
    ]


def exercise_table(times: dict[str, list[float]]) -> list[str]:
    """One row per exercise: `make check EX=NN` on stage NN."""
    lines = [HEADER]
    for number, values in times.items():
        target = EXERCISE_TARGETS.get(number, CHECK_TARGET if number == "02" else None)
        lines.append(_row(f"make check EX={number} on stage {number} ({len(values)} runs)",
                          values, "s", f"< {target:g} s" if target else "",
                          _verdict(median(values), target) if target else ""))
    return lines


USAGE = """Usage: python -m bench [all|feedback|checks|compare REV]
  feedback  make check EX=02 against its floor, and POST /feedback/ before and after exercise 02,
            drawn into docs/images/feedback-latency.svg (needs requirements-bench.txt)
  checks    make check EX=NN for every exercise, each on its own stage
  all       both (the default; what `make bench` runs)
  compare   make check EX=NN on its stage, now and as committed at REV, taking turns
            (`make bench BASE=REV`): how much each checker's time grew
BENCH_RUNS=n sets how many times each check runs (default 7)."""


def _plotter():
    """bench.plot, imported before measuring: a missing matplotlib is told at once."""
    try:
        from . import plot
    except ImportError as exc:
        raise BenchError(str(exc)) from None
    return plot


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _compare(argv: list[str]) -> int:
    if len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        count = runs(5)
        _say(f"Timing every checker now and at {argv[1]}, {count} runs each...")
        lines = compare.run(argv[1], count)
    except (BenchError, StageError) as exc:
        print(f"The bench could not compare: {exc}", file=sys.stderr)
        return 1
    _print_table(lines, "one run on this machine, both sides taking turns")
    return 0


def _print_table(lines: list[str], how: str, *notes: str) -> None:
    _say("")
    _say(f"Encore bench · Python {platform.python_version()} · {os.cpu_count()} CPUs · {how}")
    for note in notes:
        _say(note)
    _say("")
    for line in lines:
        _say(line)


def main(argv: list[str]) -> int:
    if argv[:1] == ["compare"]:
        return _compare(argv)
    part = argv[0] if argv else "all"
    if len(argv) > 1 or part not in ("all", "feedback", "checks"):
        print(USAGE, file=sys.stderr)
        return 2
    lines = []
    drawn = None  # the measurements to plot: (before, after)
    try:
        count = runs()
        plot = _plotter() if part in ("all", "feedback") else None
        with tempfile.TemporaryDirectory(prefix="encore-bench-") as tmp:
            workdir = Path(tmp)
            if part in ("all", "feedback"):
                _say(f"Measuring `make check EX=02` {count} times, and the start-up floor...")
                check = checks.measure(workdir, count)
                _say("Measuring POST /feedback/ on stage 00 (each post waits out the 2 s "
                     "email)...")
                before = feedback.measure(0, POSTS[0], workdir)
                _say("Measuring POST /feedback/ on stage 02 (the worker busy with 2 s "
                     "emails)...")
                after = feedback.measure(2, POSTS[2], workdir)
                lines += table(check, before, after)
                drawn = before, after
            if part in ("all", "checks"):
                _say(f"Measuring `make check EX=NN` {count} times for every exercise...")
                lines += [""] * bool(lines) + exercise_table(checks.every_exercise(workdir, count))
    except (BenchError, StageError) as exc:
        print(f"The bench could not measure: {exc}", file=sys.stderr)
        return 1
    _print_table(lines, "one run on this machine",
                 "Machines are noisy: compare figures taken on the same machine, and run it "
                 "again before trusting a small change.")
    if drawn:
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        try:
            plot.draw(*drawn, PLOT, python=python, cpus=os.cpu_count(),
                      day=datetime.date.today())
        except OSError as exc:
            print(f"The bench could not write its plot {_shown(PLOT)}: {exc}", file=sys.stderr)
            return 1
        _say("")
        _say(f"The feedback posts, drawn: {_shown(PLOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What a student reads: pure functions from check results to text. Nothing here runs code."""

from __future__ import annotations

import textwrap
from pathlib import Path

from .runner import CheckRun

__all__ = ["Style", "check_lines", "header", "summary", "progress_table", "shown",
           "timing_failed", "TIMING_ADVICE"]

MARKS = {"passed": "✓", "failed": "✗", "error": "✗", "timed out": "✗", "skipped": "-"}
_COLORS = {"passed": "32", "failed": "31", "error": "31", "timed out": "31", "skipped": "33"}


class Style:
    """Colours for a terminal, or none."""

    def __init__(self, color: bool):
        self.color = color

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def status(self, text: str, status: str) -> str:
        return self.paint(text, _COLORS.get(status, "0"))

    def dim(self, text: str) -> str:
        return self.paint(text, "2")

    def bold(self, text: str) -> str:
        return self.paint(text, "1")


def _block(label: str, text: str, width: int = 92) -> list[str]:
    lines = []
    for n, paragraph in enumerate(str(text).strip().splitlines() or [""]):
        lead = f"      {label:<9} " if n == 0 else " " * 16
        # Never split a word: a path or a link cut at a hyphen no longer opens.
        wrapped = textwrap.wrap(paragraph, width - 16, break_on_hyphens=False,
                                break_long_words=False) or [""]
        if paragraph.startswith(" "):  # code and tracebacks keep their shape
            wrapped = [paragraph]
        for k, chunk in enumerate(wrapped):
            lines.append((lead if k == 0 else " " * 16) + chunk)
    return lines


def check_lines(record: dict, style: Style) -> list[str]:
    """One check: its mark and title, and, unless it passed, what was seen and what to do."""
    status = record["status"]
    mark = style.status(MARKS.get(status, "?"), status)
    seconds = record.get("duration")
    timing = style.dim(f" ({seconds:.1f} s)") if seconds and seconds >= 0.5 else ""
    lines = [f"  {mark} {record['title']}{timing}"]
    if status == "skipped":
        lines[0] += style.dim(f"  ({record.get('observed', 'skipped')})")
        return lines
    if status == "passed":
        if record.get("guard"):
            lines[0] += style.dim("  (held from earlier exercises: no points)")
        return lines
    if status == "timed out":
        lines[0] += style.status("  [timed out]", status)
    lines += _block("Observed:", record.get("observed") or "")
    if record.get("expected"):
        lines += _block("Expected:", record["expected"])
    if record.get("hint"):
        lines += _block("Hint:", record["hint"])
    if record.get("details"):
        lines += ["      " + line for line in record["details"].splitlines()[-20:]]
    if record.get("lesson"):
        lines += _block("Read:", record["lesson"])
    return lines


TIMING_ADVICE = ("Timing checks can fail on a very busy machine: run it again before "
                 "changing your code.")


def timing_failed(checks: list[dict]) -> list[dict]:
    """The checks marked ``@timed`` that failed on a measured duration (``fail(..., timing=True)``)
    or ran out of time: the only failures a busy machine can cause."""
    return [c for c in checks if c.get("timed") and (
        c["status"] == "timed out" or (c["status"] == "failed" and c.get("timing") is True))]


def shown(path: Path) -> str:
    """A path as short as it can be: relative to the current folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def header(exercise_line: str, project: str, style: Style) -> list[str]:
    return [style.bold(exercise_line), style.dim(f"project: {project}")]


def summary(run: CheckRun, replay: str, style: Style) -> list[str]:
    """The closing lines: the run's own problem if it had one, counts, broker, seed, replay."""
    lines = []
    if run.problem:
        lines += [""] + [style.status(line, "failed") for line in run.problem.splitlines()]
        if run.outcome == "crashed" and run.log.strip():
            lines += ["      " + line for line in run.log.strip().splitlines()[-15:]]
    counts = [f"{run.count(s)} {s}" for s in ("passed", "failed", "error", "timed out", "skipped")
              if run.count(s) or s in ("passed", "failed")]
    verdict = "All checks pass." if run.passed else "Not there yet."
    if timing_failed(run.checks):
        lines += ["", TIMING_ADVICE]
    lines += ["", style.status(verdict, "passed" if run.passed else "failed")
              + f" {', '.join(counts)} in {run.duration:.1f} s",
              style.dim(f"broker: {run.broker or 'not started'} · seed: {run.seed} · "
                        f"replay: {replay}")]
    return lines


def progress_table(runs: list[CheckRun], style: Style) -> list[str]:
    """Where a student stands: one row per exercise, and the next lesson to read."""
    lines = [style.bold("Where you are:")]
    next_up = None
    for run in runs:
        checks = [c for c in run.checks if c["id"] != "loads" and not c.get("guard")]
        passed = sum(1 for c in checks if c["status"] == "passed")
        status = "passed" if run.passed else "failed"
        mark = style.status(MARKS[status], status)
        lines.append(f"  {mark} {run.exercise.name:<30} {passed}/{len(checks)} checks")
        if not run.passed and next_up is None:
            next_up = run.exercise
    if next_up:
        lesson = next_up.lesson.relative_to(next_up.lesson.parents[1])
        lines += ["", f"Next: exercise {next_up.number}. Read {lesson}, then "
                      f"`make check EX={next_up.number}`."]
    else:
        lines += ["", style.status("Every exercise passes. Well done!", "passed")]
    return lines

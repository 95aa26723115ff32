"""A graded class as data and as files: scores, gradebook.csv, results.json, feedback, summary.

Scoring: an exercise's score is its points (exercise.toml) times the share of its checks that
passed; its checks are the ``test_*`` functions of the instructor's check.py, so a run that
stopped early, or a set-up line ("Your project loads"), never changes the count. Rendering
reuses grader/report.py: the feedback holds the very lines `make check` prints.
"""

from __future__ import annotations

import ast
import csv
import functools
import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import report
from ..exercises import Exercise
from ..runner import SET_UP_LINES
from .runs import from_data
from .submissions import Submission

__all__ = ["Graded", "check_count", "score", "write_all", "SCHEMA"]

SCHEMA = "encore-grade-results/1"
# Lines that are not checks of the exercise: the run's set-up, the checker's own trouble
# (collect, internal), and a shared fixture that broke (reported once, on its own line).
# Lines that are not checks of the exercise: the run's set-up, the checker's own failures, and
# the harness's fixture lines (harness/fixtures.py FIXTURE_TITLES; a test keeps them in step).
SET_UP = {*SET_UP_LINES, "collect", "internal", "celery_app", "worker", "flower"}
_PLAIN = report.Style(False)


@functools.cache
def _scored(exercise: Exercise) -> frozenset[str]:
    """The checks that carry points: the checker's ``test_*`` functions but its ``@guard`` ones,
    read from the instructor's check.py (never from what a run reports about itself)."""
    tree = ast.parse(exercise.checker.read_text())
    return frozenset(
        node.name for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test_")
        and not any(_names(d) == "guard" for d in node.decorator_list))


def _names(decorator: ast.expr) -> str:
    """The name a decorator ends with: ``guard`` for ``@guard`` and ``@harness.guard``."""
    if isinstance(decorator, ast.Call):
        decorator = decorator.func
    return getattr(decorator, "attr", None) or getattr(decorator, "id", "")


def check_count(exercise: Exercise) -> int:
    return len(_scored(exercise))


def _checks(result: dict) -> list[dict]:
    return [r for r in result["records"] if r.get("event") == "check" and r["id"] not in SET_UP]


def _points(exercise: Exercise):
    """What the exercise is worth: ``points`` in its exercise.toml, else 10."""
    return exercise.meta.get("points", 10)


def flagged(result: dict | None) -> bool:
    """Whether the parent found evidence against the run's own records (grade/verdict.py)."""
    return bool(result and (result.get("integrity") or {}).get("flagged"))


def evidence(result: dict | None) -> list[str]:
    items = ((result or {}).get("integrity") or {}).get("evidence", [])
    return [f"{e['kind']}: {e['what']}" + (f" ({e['where']})" if e.get("where") else "")
            for e in items]


def score(exercise: Exercise, result: dict) -> float:
    if flagged(result):
        return 0.0  # what the run says about itself cannot be trusted
    scored = _scored(exercise)
    total = len(scored)
    passed = len({c["id"] for c in _checks(result) if c["status"] == "passed"} & scored)
    points = float(_points(exercise))
    return round(points * min(passed, total) / total, 2) if total else 0.0


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class Graded:
    """Everything known about one student after grading."""

    submission: Submission
    seed: int
    results: dict[str, dict] = field(default_factory=dict)  # exercise number → run data
    cached: set[str] = field(default_factory=set)
    scan: dict = field(default_factory=dict)  # suspicious code found in it (verdict.scan)

    @property
    def graded(self) -> str:
        """How far grading went: graded, partly graded: ..., not gradable: ..."""
        sub = self.submission
        if not sub.gradable:
            return f"not gradable: {sub.problem}"
        stopped = [f"{n} {r['outcome']}" for n, r in sorted(self.results.items())
                   if r["outcome"] != "completed"]
        return f"partly graded: {', '.join(stopped)}" if stopped else "graded"

    @property
    def look(self) -> str:
        """Why an instructor must look at this submission before trusting its grade ("" if
        nothing)."""
        why = []
        forged = [n for n, r in sorted(self.results.items()) if flagged(r)]
        if forged:
            why.append(f"{', '.join(forged)} scored 0, results not backed by what the grader saw")
        if self.scan.get("strong"):
            why.append("suspicious code")
        return "; ".join(why)

    @property
    def status(self) -> str:
        look = self.look
        return f"needs a look: {look} ({self.graded})" if look else self.graded

    def score(self, exercise: Exercise) -> float:
        result = self.results.get(exercise.number)
        return score(exercise, result) if result else 0.0

    def run(self, number: str):
        return from_data(self.results[number], self.submission.project or Path("."))


def _message(record: dict) -> str:
    return "\n".join(report.check_lines(record, _PLAIN))


def _feedback_lines(graded: Graded, exercises: list[Exercise]) -> list[str]:
    sub = graded.submission
    lines = [f"Feedback for {sub.name}", ""]
    if not sub.gradable:
        return lines + [f"Your submission could not be graded. {sub.problem}"] + sub.notes
    lines += [f"Note: {note}" for note in sub.notes + [n for r in graded.results.values()
                                                        for n in r.get("notes", [])]]
    runs = []
    for exercise in exercises:
        run = graded.run(exercise.number)
        runs.append(run)
        replay = f"make check EX={exercise.number} SEED={graded.seed}"
        lines += [""] + report.header(
            f"Exercise {exercise.number} · {exercise.title} · "
            f"{_number(graded.score(exercise))}/{_number(_points(exercise))} points",
            sub.layout == "repository" and "starter_project" or "your project", _PLAIN)
        lines += [line for record in run.checks for line in report.check_lines(record, _PLAIN)]
        lines += report.summary(run, replay, _PLAIN)
        result = graded.results.get(exercise.number)
        if flagged(result):
            lines += ["", "Needs a look: this exercise scores 0 until your instructor has looked "
                      "at it. What the grader saw does not back the results your run reported:"]
            lines += [f"  - {item}" for item in evidence(result)]
    return lines + [""] + report.progress_table(runs, _PLAIN)


def _student_data(graded: Graded, exercises: list[Exercise]) -> dict:
    sub = graded.submission
    data = {"name": sub.name, "id": sub.student_id, "submission": sub.source.name,
            "key": sub.key, "status": graded.status, "layout": sub.layout,
            "content_hash": sub.content_hash, "seed": graded.seed, "notes": sub.notes,
            "integrity": sub.integrity, "suspicious_code": graded.scan, "exercises": []}
    for exercise in exercises:
        result = graded.results.get(exercise.number)
        if result is None:
            continue
        checks = [{**{k: r.get(k) for k in ("id", "title", "status", "observed", "expected",
                                               "hint", "details", "lesson")},
                   "timed": bool(r.get("timed")),
                   "duration": round(r.get("duration") or 0, 3), "message": _message(r)}
                  for r in result["records"] if r.get("event") == "check"]
        data["exercises"].append({
            "number": exercise.number, "score": graded.score(exercise),
            "points": _points(exercise), "outcome": result["outcome"],
            "problem": result["problem"], "duration": round(result["duration"], 3),
            "cpu": result.get("cpu"),
            "seed": result["seed"], "broker": result["broker"], "cached":
            exercise.number in graded.cached, "rerun": result.get("rerun", ""),
            "notes": result.get("notes", []),
            "integrity": result.get("integrity") or {"flagged": False, "evidence": []},
            "output_tail": result["log"][-2000:], "checks": checks})
    data["total"] = round(sum(e["score"] for e in data["exercises"]), 2)
    return data


def _gradebook(path: Path, class_: list[Graded], exercises: list[Exercise]) -> None:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        max_total = sum(float(_points(e)) for e in exercises)
        out.writerow(["student", "student_id", "submission", "status"]
                     + [f"{e.number} (/{_number(_points(e))})" for e in exercises]
                     + [f"total (/{_number(max_total)})"])
        for graded in class_:
            sub = graded.submission
            scores = [graded.score(e) for e in exercises]
            out.writerow([sub.name, sub.student_id, sub.source.name, graded.status]
                         + [_number(s) for s in scores] + [_number(round(sum(scores), 2))])


def _summary(class_: list[Graded], exercises: list[Exercise], fences: dict) -> list[str]:
    gradable = [g for g in class_ if g.submission.gradable]
    lines = ["# Grading summary", "",
             f"{len(class_)} submissions: {len(gradable)} graded, "
             f"{len(class_) - len(gradable)} not gradable.", ""]
    for note in fences.get("notes", []):
        lines.append(f"> Isolation: {note}")
    lines += ["## Pass rate per check", "", "| exercise | check | passed |", "|---|---|---|"]
    failures: Counter = Counter()
    for exercise in exercises:
        tally: dict[str, list[int]] = {}
        for graded in gradable:
            result = graded.results.get(exercise.number)
            for check in _checks(result) if result else []:
                counts = tally.setdefault(check["title"], [0, 0])
                counts[0] += check["status"] == "passed"
                counts[1] += 1
                if check["status"] in ("failed", "error", "timed out"):
                    first = (check.get("observed") or "").strip().splitlines()[:1]
                    failures[(exercise.number, first[0] if first else check["status"])] += 1
        for title, (passed, seen) in tally.items():
            lines.append(f"| {exercise.number} | {title} | {passed}/{seen} "
                         f"({100 * passed // max(seen, 1)}%) |")
    lines += ["", "## Most common failure messages", ""]
    lines += [f"- {count}× exercise {number}: {text}"
              for (number, text), count in failures.most_common(10)] or ["- none"]
    lines += ["", "## Slowest submissions", ""]
    slow = sorted(gradable, key=lambda g: -sum(r["duration"] for r in g.results.values()))
    lines += [f"- {g.submission.name}: {sum(r['duration'] for r in g.results.values()):.1f} s"
              for g in slow[:5]] or ["- none"]
    lines += ["", "## Re-run alone after a timing check failed", ""]
    reruns = [f"- {g.submission.name}, exercise {number}: {result['rerun']}"
              for g in gradable for number, result in sorted(g.results.items())
              if result.get("rerun")]
    lines += reruns or ["- none"]
    lines += ["", "## Needs a look", ""]
    trouble = [g for g in class_ if g.status != "graded" or g.submission.integrity
               or g.submission.notes or any(r.get("notes") for r in g.results.values())
               or g.scan.get("weak")]
    for graded in trouble:
        sub = graded.submission
        lines.append(f"- **{sub.name}** ({sub.source.name}): {graded.status}")
        lines += [f"  - {note}" for note in sub.notes]
        if sub.integrity:
            lines.append("  - Integrity: these files differ from the instructor's copy (graded "
                         "with the instructor's copy regardless): " + ", ".join(sub.integrity))
        for number, result in sorted(graded.results.items()):
            if result["problem"]:
                lines.append(f"  - {number}: " + result["problem"].splitlines()[0])
            lines += [f"  - {number}: {note}" for note in result.get("notes", [])]
            if flagged(result):
                lines.append(f"  - {number}: scored 0, what the grader saw does not back the "
                             "run's own records:")
                lines += [f"    - {item}" for item in evidence(result)]
        for kind, label in (("strong", "Suspicious code"), ("weak", "Code worth a glance")):
            if graded.scan.get(kind):
                lines.append(f"  - {label} (static scan; no points taken for it): "
                             + "; ".join(graded.scan[kind]))
    return lines + ([] if trouble else ["- nothing"])


def write_all(out: Path, class_: list[Graded], exercises: list[Exercise], meta: dict) -> None:
    """gradebook.csv, results.json, summary.md and feedback/<student>.md and .html."""
    out.mkdir(parents=True, exist_ok=True)
    _gradebook(out / "gradebook.csv", class_, exercises)
    document = {"schema": SCHEMA, **meta,
                "exercises": [{"number": e.number, "title": e.title,
                               "points": _points(e), "checks": check_count(e)}
                              for e in exercises],
                "students": [_student_data(g, exercises) for g in class_]}
    (out / "results.json").write_text(json.dumps(document, indent=1, ensure_ascii=False))
    (out / "summary.md").write_text("\n".join(_summary(class_, exercises,
                                                       meta.get("isolation", {}))) + "\n")
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    for graded in class_:
        text = "\n".join(_feedback_lines(graded, exercises))
        name = graded.submission.name
        (feedback / f"{graded.submission.key}.md").write_text(
            f"# Feedback: {name}\n\n```text\n{text}\n```\n")
        (feedback / f"{graded.submission.key}.html").write_text(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
            f"<title>Feedback: {html.escape(name)}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
            "pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}</style>"
            f"<h1>Feedback: {html.escape(name)}</h1><pre>{html.escape(text)}</pre></html>\n")

"""A graded class as data and as files: scores, gradebook.csv, results.json, feedback, summary.

Scoring: an exercise's score is its points (exercise.toml) times the share of its checks that
passed; its checks are the ``test_*`` functions of the instructor's check.py, so a run that
stopped early, or a set-up line ("Your project loads"), never changes the count. The .md
feedback holds the very lines `make check` prints (grader/report.py); the .html pages come from
grader/html_report.py (the student's) and class_report.py (the class), pure renderers.
"""

from __future__ import annotations

import ast
import csv
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import html_report, report
from ..html_report import percent, tidy
from ..exercises import Exercise
from ..runner import SET_UP_LINES
from . import class_report
from .runs import from_data
from .submissions import Submission

__all__ = ["Graded", "check_count", "class_view", "percent", "score", "write_all",
           "write_feedback_html", "SCHEMA"]

SCHEMA = "encore-grade-results/1"
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


def class_view(document: dict) -> dict:
    """The class at a glance, from results.json's data alone (summary.md and summary.html)."""
    students = document["students"]
    gradable = [s for s in students if not s["status"].startswith("not gradable")]
    titles = {e["number"]: e.get("title", "") for e in document["exercises"]}
    rates = []
    failures: dict[str, dict] = {}
    for exercise in document["exercises"]:
        number = exercise["number"]
        tally: dict[str, list[int]] = {}
        for student in gradable:
            for result in student["exercises"]:
                if result["number"] != number:
                    continue
                if result.get("problem"):
                    _failure(failures, result["problem"], number, student["name"])
                for check in result["checks"]:
                    if check["status"] in ("failed", "error", "timed out"):
                        _failure(failures, check.get("observed") or
                                 f"{check['title']}: {check['status']}", number, student["name"])
                    if check["id"] in SET_UP or flagged(result):
                        continue  # not a check, or a record the grader could not back
                    counts = tally.setdefault(check["title"], [0, 0])
                    counts[0] += check["status"] == "passed"
                    counts[1] += 1
        rates.append({"number": number, "title": titles.get(number, ""),
                      "checks": [{"title": t, "passed": p, "seen": n}
                                 for t, (p, n) in tally.items()]})
    common = sorted(failures.values(), key=lambda f: (-f["count"], f["first"]))
    return {"students": students, "gradable": gradable, "rates": rates, "failures": common,
            "exercises": document["exercises"],
            "max_total": sum(float(e["points"]) for e in document["exercises"])}


_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


def _failure(failures: dict, text: str, number: str, name: str) -> None:
    """Count one failure under its message's first line, whatever the exercise, and whatever
    numbers the student's seed put in it ("took 1.1 s" and "took 1.2 s" are one message)."""
    first = (tidy(text).splitlines() or [""])[0]
    entry = failures.setdefault(_NUMBERS.sub("N", first), {
        "text": first, "count": 0, "exercises": [], "students": [], "first": len(failures)})
    if entry["text"] != first:
        entry["text"] = _NUMBERS.sub("N", first)
    entry["count"] += 1
    if number not in entry["exercises"]:
        entry["exercises"].append(number)
    if name not in entry["students"]:
        entry["students"].append(name)


def _summary(document: dict) -> list[str]:
    view = class_view(document)
    students, gradable = view["students"], view["gradable"]
    lines = ["# Grading summary", "",
             f"{len(students)} submissions: {len(gradable)} graded, "
             f"{len(students) - len(gradable)} not gradable. The same in pictures, with each "
             "student's feedback a click away: summary.html.", ""]
    for note in (document.get("isolation") or {}).get("notes", []):
        lines.append(f"> Isolation: {note}")
    lines += ["## Pass rate per check", "", "| exercise | check | passed |", "|---|---|---|"]
    for exercise in view["rates"]:
        lines += [f"| {exercise['number']} | {c['title']} | {c['passed']}/{c['seen']} "
                  f"({percent(c['passed'], c['seen'])} %) |" for c in exercise["checks"]]
    lines += ["", "## Most common failure messages", ""]
    lines += [f"- {f['count']}× ({_people(f['students'])}; exercise"
              f"{'s' if len(f['exercises']) > 1 else ''} {', '.join(f['exercises'])}): "
              f"{f['text']}" for f in view["failures"][:10]] or ["- none"]
    lines += ["", "## Slowest submissions", ""]
    slow = sorted(gradable, key=lambda s: -sum(e["duration"] for e in s["exercises"]))
    lines += [f"- {s['name']}: {sum(e['duration'] for e in s['exercises']):.1f} s"
              for s in slow[:5]] or ["- none"]
    lines += ["", "## Re-run alone after a timing check failed", ""]
    reruns = [f"- {s['name']}, exercise {e['number']}: {e['rerun']}"
              for s in gradable for e in s["exercises"] if e.get("rerun")]
    lines += reruns or ["- none"]
    lines += ["", "## Needs a look", ""]
    trouble = needs_a_look(students)
    for student in trouble:
        lines.append(f"- **{student['name']}** ({student['submission']}): {student['status']}")
        lines += [f"  - {note}" for note in student.get("notes", [])]
        if student.get("integrity"):
            lines.append("  - Integrity: these files differ from the instructor's copy (graded "
                         "with the instructor's copy regardless): "
                         + ", ".join(student["integrity"]))
        for result in student["exercises"]:
            number = result["number"]
            if result["problem"]:
                lines.append(f"  - {number}: " + result["problem"].splitlines()[0])
            lines += [f"  - {number}: {note}" for note in result.get("notes", [])]
            if flagged(result):
                lines.append(f"  - {number}: scored 0, what the grader saw does not back the "
                             "run's own records:")
                lines += [f"    - {item}" for item in evidence(result)]
        scan = student.get("suspicious_code") or {}
        for kind, label in (("strong", "Suspicious code"), ("weak", "Code worth a glance")):
            if scan.get(kind):
                lines.append(f"  - {label} (static scan; no points taken for it): "
                             + "; ".join(scan[kind]))
    return lines + ([] if trouble else ["- nothing"])


def _people(names: list[str]) -> str:
    return f"{len(names)} student{'s' if len(names) != 1 else ''}"


def needs_a_look(students: list[dict]) -> list[dict]:
    """The students an instructor reads before trusting the gradebook, in class order."""
    return [s for s in students if s["status"] != "graded" or s.get("integrity")
            or s.get("notes") or any(e.get("notes") for e in s["exercises"])
            or (s.get("suspicious_code") or {}).get("weak")]


def _feedback_view(graded: Graded, exercises: list[Exercise]) -> dict:
    """What feedback/<student>.html shows, as data for html_report.feedback_page."""
    sub = graded.submission
    view = {"name": sub.name, "notes": list(sub.notes),
            "footer": "Written by the course's grader. Each exercise's command runs the same "
                      "checks, with the same data, on your machine."}
    if not sub.gradable:
        return {**view, "gradable": False, "problem": sub.problem}
    views = []
    for exercise in exercises:
        result = graded.results.get(exercise.number)
        if result is None:
            continue
        views.append(html_report.exercise_view(
            graded.run(exercise.number), f"make check EX={exercise.number} SEED={graded.seed}",
            score=graded.score(exercise), points=float(_points(exercise)),
            total=check_count(exercise), flagged=flagged(result), evidence=evidence(result),
            notes=result.get("notes", []), rerun=result.get("rerun", "")))
    held = [v["number"] for v in views if v["flagged"]]
    many = len(held) > 1
    look = (f"exercise{'s' if many else ''} {', '.join(held)} score{'' if many else 's'} 0 for now"
            ", as what the grader saw does not back the results your run reported"
            if held else "")
    where = "starter_project/ of your repository" if sub.layout == "repository" else "your project"
    return {**view, "exercises": views, "look": look,
            "lede": f"Graded: {where}, with seed {graded.seed}."}


def write_feedback_html(out: Path, class_: list[Graded], exercises: list[Exercise],
                        lessons_url: str | None = None) -> None:
    """feedback/<student>.html, lesson links under ``lessons_url`` (default: the path from the
    feedback folder to this repository's lessons/)."""
    feedback = out / "feedback"
    feedback.mkdir(parents=True, exist_ok=True)
    base = lessons_url or html_report.relative_base(feedback)
    for graded in class_:
        (feedback / f"{graded.submission.key}.html").write_text(
            html_report.feedback_page(_feedback_view(graded, exercises), base))


def write_all(out: Path, class_: list[Graded], exercises: list[Exercise], meta: dict,
              lessons_url: str | None = None) -> None:
    """gradebook.csv, results.json, summary.md and .html, feedback/<student>.md and .html."""
    out.mkdir(parents=True, exist_ok=True)
    _gradebook(out / "gradebook.csv", class_, exercises)
    document = {"schema": SCHEMA, **meta,
                "exercises": [{"number": e.number, "title": e.title,
                               "points": _points(e), "checks": check_count(e)}
                              for e in exercises],
                "students": [_student_data(g, exercises) for g in class_]}
    (out / "results.json").write_text(json.dumps(document, indent=1, ensure_ascii=False))
    (out / "summary.md").write_text("\n".join(_summary(document)) + "\n")
    (out / "summary.html").write_text(class_report.summary_page(class_view(document), document))
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    for graded in class_:
        text = "\n".join(_feedback_lines(graded, exercises))
        (feedback / f"{graded.submission.key}.md").write_text(
            f"# Feedback: {graded.submission.name}\n\n```text\n{text}\n```\n")
    write_feedback_html(out, class_, exercises, lessons_url)

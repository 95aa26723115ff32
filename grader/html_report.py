"""The feedback page a student opens: pure functions from check results to one HTML file.

`make grade` writes it as feedback/<student>.html and `make check ... HTML=file` for a student's
own run. No JavaScript, no network: inline CSS, and every word from a run escaped.
Lesson links are ``base`` + the lesson's file name; ``relative_base`` gives the path from the
page's folder to this repository's lessons/, which works wherever the page is opened on the
machine that wrote it (a public URL works anywhere: ``--lessons-url``).
"""

from __future__ import annotations

import os
import re
from html import escape
from pathlib import Path
from urllib.parse import quote

from .exercises import REPO
from .runner import SET_UP_LINES, CheckRun

__all__ = ["check_page", "exercise_view", "feedback_page", "lesson_href", "lesson_label",
           "number", "page",
           "percent", "relative_base", "tidy", "write_check_page", "CSS"]

# Two full stops after a word ("...: Connection closed by server.."), never "..." or "../".
_DOUBLE_STOP = re.compile(r"(?<=[^.\s/])\.\.(?=\s|$)")
_EVIDENCE = 6  # items of evidence shown; results.json and summary.md hold them all
_BADGES = {"passed": ("✓", "passed"), "failed": ("✗", "failed"), "error": ("✗", "error"),
           "timed out": ("✗", "timed out"), "skipped": ("–", "skipped")}

CSS = """
*{box-sizing:border-box}
body{margin:0;font:1rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1f2328;background:#f6f8fa}
a{color:#0550ae}a:focus-visible,summary:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
header.top{background:#24292f;color:#fff;padding:.75rem 1rem}
header.top p{margin:0 auto;max-width:50rem;font-weight:600}
main{display:block;max-width:50rem;margin:0 auto;padding:1.5rem 1rem 3rem}
footer{max-width:50rem;margin:0 auto;padding:1rem;color:#57606a;font-size:.875rem;
border-top:1px solid #d0d7de}
h1{font-size:1.75rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1.3rem;line-height:1.3;margin:0}
h3{font-size:1rem;margin:0}
p,dd,li{overflow-wrap:anywhere}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1rem 1.25rem;
margin:1rem 0}
.lede{color:#57606a;margin:0 0 1rem}
.total{font-size:1.1rem;margin:.25rem 0 .75rem}.total strong{font-size:2.25rem}
.meter{height:.6rem;background:#eaeef2;border-radius:1rem;overflow:hidden;margin:.25rem 0 1rem}
.meter span{display:block;height:100%;background:#1a7f37}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}
.mark{font-weight:700;display:inline-block;min-width:1.2em}
.pass{color:#116329}.fail{color:#a40e26}.muted{color:#57606a}
.exercise{border-left:6px solid #1a7f37}.exercise.failing{border-left-color:#cf222e}
.exercise .sub{margin:.25rem 0 .5rem;color:#57606a}
details>summary{cursor:pointer;font-weight:600;padding:.25rem 0;color:#0550ae}
ol.checks{list-style:none;padding:0;margin:.5rem 0}
ol.checks>li{border-top:1px solid #eaeef2;padding:.6rem 0}
.badge{display:inline-block;font-size:.8rem;font-weight:700;padding:0 .5rem;border-radius:1rem;
margin-right:.4rem;white-space:nowrap;vertical-align:.1em}
.badge.passed{background:#dafbe1;color:#0f5323}
.badge.failed,.badge.error{background:#ffebe9;color:#82071e}
.badge.skipped{background:#eaeef2;color:#424a53}
.badge.held{background:#ddf4ff;color:#0a3069}
.why,dl{margin:.4rem 0 0 1.25rem}
.why{color:#424a53;font-size:.95rem}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.25rem .75rem}
dt{font-weight:600;color:#424a53}dd{margin:0}dd p{margin:0 0 .25rem}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6rem .75rem;
overflow-x:auto;font-size:.85rem;margin:.25rem 0;white-space:pre}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.replay pre{background:#24292f;color:#fff;border:0;font-size:.95rem}
.look{background:#fff8c5;border:1px solid #d4a72c;border-radius:8px;padding:.75rem 1rem;
margin:.75rem 0;color:#3b2300}
.look h2,.look h3{font-size:1rem}
.look ul{margin:.25rem 0 0;padding-left:1.25rem}
@media (max-width:32rem){.card{padding:.75rem .9rem}
dl{grid-template-columns:1fr;gap:0}dd{margin-bottom:.4rem}
h1{font-size:1.45rem}.total strong{font-size:1.8rem}}
"""


def tidy(text) -> str:
    """A run's words as they are shown: one full stop after a word, never two."""
    return _DOUBLE_STOP.sub(".", str(text or "")).strip()


def number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def percent(part: int, whole: int) -> int:
    """A share in whole percent, halves rounded up: 2/3 is 67, 1/8 is 13 (never truncated)."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def relative_base(page_folder: Path, lessons: Path = REPO / "lessons") -> str:
    """The lessons folder as seen from a page in ``page_folder``, ending in "/"."""
    try:
        rel = os.path.relpath(Path(lessons).resolve(), Path(page_folder).resolve())
    except ValueError:  # another drive (Windows): only an absolute address reaches it
        return Path(lessons).resolve().as_uri() + "/"
    return Path(rel).as_posix().rstrip("/") + "/"


def lesson_href(lesson: str, base: str) -> str:
    """``lessons/02-x.md#step-3`` under ``base`` (a folder or URL ending in "/")."""
    path, _, anchor = lesson.partition("#")
    name = path.removeprefix("lessons/")
    base = base if not base or base.endswith("/") else base + "/"
    return base + quote(name) + (f"#{quote(anchor)}" if anchor else "")


def lesson_label(lesson: str, titles: dict | None = None) -> str:
    """``lessons/02-offload-feedback-email.md#step-3-call-it-with-delay`` → "Lesson 02,
    step 3: call it with delay"; a whole lesson by its exercise's title in ``titles``."""
    path, _, anchor = lesson.partition("#")
    stem = Path(path).stem
    num, _, slug = stem.partition("-")
    if not num.isdigit():
        return stem.replace("-", " ")
    if not anchor:
        return f"Lesson {num}: {(titles or {}).get(num) or slug.replace('-', ' ')}"
    step = re.match(r"step-(\d+)-(.*)", anchor)
    if step:
        return f"Lesson {num}, step {step[1]}: {step[2].replace('-', ' ')}"
    return f"Lesson {num}: “{anchor.replace('-', ' ')}”"


def exercise_view(run: CheckRun, replay: str, score: float | None = None,
                  points: float | None = None, total: int | None = None, flagged: bool = False,
                  evidence=(), notes=(), rerun: str = "") -> dict:
    """What the page shows of one exercise's run, as plain data."""
    from .report import timing_failed  # the same advice as the terminal's
    checks = [dict(c) for c in run.checks]
    scored = [c for c in checks if c["id"] not in SET_UP_LINES and not c.get("guard")]
    passed = sum(1 for c in scored if c["status"] == "passed")
    return {"number": run.exercise.number, "title": run.exercise.title,
            "lesson": f"lessons/{run.exercise.name}.md", "score": score, "points": points,
            "passed": run.passed and not flagged, "passed_checks": passed,
            "checks_total": max(total or 0, len(scored)), "outcome": run.outcome,
            "problem": run.problem, "log_tail": run.log.strip().splitlines()[-15:]
            if run.outcome == "crashed" else [], "checks": checks, "replay": replay,
            "flagged": flagged, "evidence": list(evidence), "notes": list(notes),
            "rerun": rerun, "timing_advice": bool(timing_failed(checks)),
            "duration": run.duration, "broker": run.broker, "seed": run.seed}


# -- HTML ---------------------------------------------------------------------------------------

def page(title: str, body: str, brand: str = "Encore · Celery and Redis workshop",
         footer: str = "", css: str = "") -> str:
    """One self-contained HTML document."""
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)}</title>\n<style>{CSS}{css}</style>\n</head>\n<body>\n"
            "<a class=\"skip\" href=\"#main\">Skip to the content</a>\n"
            f"<header class=\"top\"><p>{escape(brand)}</p></header>\n"
            f"<main id=\"main\">\n{body}</main>\n"
            + (f"<footer><p>{escape(footer)}</p></footer>\n" if footer else "")
            + "</body>\n</html>\n")


def _prose(text) -> str:
    """Paragraphs, with indented lines (code, a stack) kept in a <pre>."""
    out, plain, code = [], [], []

    def flush():
        if plain:
            out.append(f"<p>{escape(' '.join(plain))}</p>")
            plain.clear()
        if code:
            out.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
            code.clear()

    for line in tidy(text).splitlines():
        if line.startswith((" ", "\t")):
            if plain:
                flush()
            code.append(line)
        elif not line.strip():
            flush()
        else:
            if code:
                flush()
            plain.append(line.strip())
    flush()
    return "".join(out)


def _badge(record: dict) -> str:
    status = record["status"]
    if status == "passed" and record.get("guard"):
        return '<span class="badge held">✓ held</span>'
    mark, word = _BADGES.get(status, ("?", status))
    kind = status if status != "timed out" else "failed"
    return f'<span class="badge {escape(kind)}">{mark} {escape(word)}</span>'


def _check(record: dict, base: str, titles: dict) -> str:
    status, title = record["status"], escape(tidy(record.get("title") or record["id"]))
    seconds = record.get("duration") or 0
    took = f' <span class="muted">({seconds:.1f} s)</span>' if seconds >= 0.5 else ""
    if status == "passed" and record["id"] in SET_UP_LINES:
        return ""  # "Your project loads" that did: not a check, and nothing to read
    if status in ("passed", "skipped"):
        head = f"<p>{_badge(record)}{title}{took}</p>"
        if status == "skipped":
            why = tidy(record.get("observed") or "skipped")
            head += f'<p class="why">Not run: {escape(why)}</p>'
        elif record.get("guard"):
            head += ('<p class="why">Held from earlier exercises: it must keep passing, and '
                     "earns no points.</p>")
        return f"<li>{head}</li>"
    rows = [("Observed", _prose(record.get("observed") or ""))]
    for key, label in (("expected", "Expected"), ("hint", "Hint")):
        if record.get(key):
            rows.append((label, _prose(record[key])))
    if record.get("details"):
        lines = tidy(record["details"]).splitlines()[-20:]
        rows.append(("Details", f"<pre><code>{escape(chr(10).join(lines))}</code></pre>"))
    if record.get("lesson"):
        lesson = record["lesson"]
        rows.append(("Read", f'<a href="{escape(lesson_href(lesson, base))}">'
                             f"{escape(lesson_label(lesson, titles))}</a>"))
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return f"<li><h3>{_badge(record)}{title}{took}</h3><dl>{items}</dl></li>"


def _score_text(view: dict) -> str:
    checks = f"{view['passed_checks']} of {view['checks_total']} checks pass"
    if view.get("points") is None:
        return checks
    return f"{number(view['score'] or 0)}/{number(view['points'])} points · {checks}"


def _look(view: dict) -> str:
    if not view.get("flagged"):
        return ""
    shown, more = view["evidence"][:_EVIDENCE], len(view["evidence"]) - _EVIDENCE
    items = "".join(f"<li>{escape(tidy(e))}</li>" for e in shown)
    if more > 0:
        items += f"<li>and {more} more of the same kind</li>"
    return ('<div class="look"><h3>⚠ Needs a look</h3><p>This exercise scores 0 until your '
            "instructor has looked at it: what the grader saw does not back the results your "
            f"run reported.</p><ul>{items}</ul></div>")


def _exercise(view: dict, base: str) -> str:
    good = view["passed"]
    mark = '<span class="mark pass">✓</span>' if good else '<span class="mark fail">✗</span>'
    anchor = f"ex-{escape(view['number'])}"
    parts = [f'<section class="card exercise{"" if good else " failing"}" id="{anchor}" '
             f'aria-labelledby="{anchor}-h">',
             f'<h2 id="{anchor}-h">{mark} Exercise {escape(view["number"])} · '
             f'{escape(view["title"])}</h2>',
             f'<p class="sub">{escape(_score_text(view))}</p>', _look(view)]
    if view.get("problem"):
        parts.append(f'<div class="look"><h3>The run itself stopped</h3>'
                     f'{_prose(view["problem"])}'
                     + (f'<pre><code>{escape(chr(10).join(view["log_tail"]))}</code></pre>'
                        if view.get("log_tail") else "") + "</div>")
    for note in view.get("notes", []):
        parts.append(f'<p class="why">Note: {escape(tidy(note))}</p>')
    if view.get("rerun"):
        parts.append(f'<p class="why">{escape(tidy(view["rerun"]))}</p>')
    bad = sum(1 for c in view["checks"] if c["status"] not in ("passed", "skipped"))
    held = sum(1 for c in view["checks"] if c.get("guard"))
    label = (f"The checks: {bad} to fix" if bad else "The checks") if not good else (
        f"Show the {view['checks_total']} check{'s' if view['checks_total'] != 1 else ''}"
        + (f" and {held} held from earlier" if held else ""))
    titles = {view["number"]: view["title"]}
    items = "".join(_check(c, base, titles) for c in view["checks"])
    advice = ('<p class="why">Timing checks can fail on a very busy machine: run it again '
              "before changing your code.</p>" if view.get("timing_advice") else "")
    lesson = view["lesson"]
    replay = (f'<div class="replay"><p>Run it again on your machine, with the same data:</p>'
              f'<pre><code>{escape(view["replay"])}</code></pre></div>')
    footer = (f'<p class="muted">Lesson: <a href="{escape(lesson_href(lesson, base))}">'
              f'{escape(lesson_label(lesson, titles))}</a> · seed {escape(str(view["seed"]))} · '
              f'{view["duration"]:.1f} s</p>')
    parts.append(f'<details{"" if good else " open"}><summary>{label}</summary>'
                 f'<ol class="checks">{items}</ol>{advice}{replay}{footer}</details>')
    return "\n".join(p for p in parts if p) + "</section>\n"


def _scores(student: dict) -> str:
    views = student["exercises"]
    rows = []
    for view in views:
        mark = ('<span class="mark pass">✓</span><span class="vh">passed: </span>'
                if view["passed"] else
                '<span class="mark fail">✗</span><span class="vh">not yet: </span>')
        points = (f"{number(view['score'] or 0)}/{number(view['points'])}"
                  if view.get("points") is not None else "")
        rows.append(f'<tr><td>{mark}<a href="#ex-{escape(view["number"])}">'
                    f'{escape(view["number"])} · {escape(view["title"])}</a></td>'
                    f'<td class="num">{view["passed_checks"]}/{view["checks_total"]}</td>'
                    + (f'<td class="num">{points}</td>' if points else "") + "</tr>")
    with_points = any(v.get("points") is not None for v in views)
    head = ('<tr><th scope="col">Exercise</th><th scope="col" class="num">Checks</th>'
            + ('<th scope="col" class="num">Points</th>' if with_points else "") + "</tr>")
    if with_points:
        got = sum(v["score"] or 0 for v in views)
        most = sum(v["points"] for v in views)
        total = (f'<p class="total"><strong>{number(got)}</strong> / {number(most)} points</p>')
        share = got / most if most else 0
    else:
        got = sum(v["passed_checks"] for v in views)
        most = sum(v["checks_total"] for v in views)
        total = f'<p class="total"><strong>{got}</strong> / {most} checks pass</p>'
        share = got / most if most else 0
    done = sum(1 for v in views if v["passed"])
    return ('<section class="card" aria-labelledby="scores-h"><h2 id="scores-h">Your score</h2>'
            f'{total}<div class="meter" aria-hidden="true"><span style="width:'
            f'{round(100 * share, 1)}%"></span></div>'
            f'<p class="muted">{done} of {len(views)} exercise{"s" if len(views) != 1 else ""} '
            f'pass{"es" if len(views) == 1 else ""} every check.</p>'
            f'<table><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
            "</table></section>\n")


def _next(student: dict, base: str) -> str:
    todo = next((v for v in student["exercises"] if not v["passed"]), None)
    if todo is None:
        if not student["exercises"]:
            return ""
        text = "<p>Every exercise passes. Well done!</p>"
    else:
        text = (f'<p>Exercise {escape(todo["number"])}: read <a href="'
                f'{escape(lesson_href(todo["lesson"], base))}">'
                f'{escape(lesson_label(todo["lesson"], {todo["number"]: todo["title"]}))}'
                "</a>, fix the first check marked ✗, "
                f"then run <code>{escape(todo['replay'])}</code>.</p>")
    return (f'<section class="card" aria-labelledby="next-h"><h2 id="next-h">What next</h2>'
            f"{text}</section>\n")


def feedback_page(student: dict, base: str) -> str:
    """The whole page. ``student``: name, exercises (``exercise_view``s), and optionally
    gradable, problem, notes, look (why an instructor looks first), heading, lede."""
    name = student.get("name") or ""
    heading = student.get("heading") or f"Feedback for {name}"
    body = [f"<h1>{escape(heading)}</h1>"]
    if student.get("lede"):
        body.append(f'<p class="lede">{escape(student["lede"])}</p>')
    if student.get("gradable") is False:
        body.append('<section class="card" aria-labelledby="ng-h"><h2 id="ng-h">Your '
                    "submission could not be graded</h2>"
                    f'{_prose(student.get("problem") or "")}'
                    + "".join(f"<p>{escape(tidy(n))}</p>" for n in student.get("notes", []))
                    + "</section>\n")
        return page(heading, "\n".join(body))
    if student.get("look"):
        body.append('<div class="look" role="note"><h2>⚠ Needs a look</h2><p>Your instructor '
                    f"will look at this before the grade counts: {escape(student['look'])}."
                    "</p></div>")
    notes = [tidy(n) for n in student.get("notes", [])]
    if notes:
        body.append('<div class="card"><p><strong>Notes</strong></p><ul>'
                    + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul></div>")
    body.append(_scores(student))
    body += [_exercise(view, base) for view in student["exercises"]]
    body.append(_next(student, base))
    return page(heading, "\n".join(body), footer=student.get("footer") or "")


def check_page(runs: list[CheckRun], replay, base: str) -> str:
    """The page of a student's own `make check`: ``replay(number)`` is the command to run it
    again. Points are counted as the grader counts them."""
    from .grade.results import check_count, score
    views = [exercise_view(run, replay(run.exercise.number),
                           score=score(run.exercise, {"records": run.records}),
                           points=float(run.exercise.meta.get("points", 10)),
                           total=check_count(run.exercise)) for run in runs]
    heading = (f"Exercise {runs[0].exercise.number}: your check" if len(runs) == 1
               else "Your checks")
    lede = f"Project: {runs[0].project}" if runs else ""
    return feedback_page({"name": "", "heading": heading, "lede": lede, "exercises": views,
                          "footer": "Written by make check. The grade your instructor gives "
                                    "comes from the same checks."}, base)


def write_check_page(path: Path, runs: list[CheckRun], replay) -> None:
    """``check_page`` into ``path``, its lesson links relative to where it is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(check_page(runs, replay, relative_base(path.parent)))

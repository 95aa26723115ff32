"""The reports people read: the student's feedback page, `make check --html`, summary.md and
summary.html. Their renderers are pure, so the data is built here by hand; nothing runs."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from grader.exercises import find_exercise
from grader.grade import class_report, results
from grader.grade.submissions import Submission
from grader.html_report import check_page, lesson_href, percent, relative_base, tidy
from grader.runner import CheckRun

EX01 = ["test_celery_module", "test_exposed_as_celery_app", "test_reads_django_settings",
        "test_broker_from_redis_url", "test_autodiscovers_tasks", "test_debug_task_runs_on_worker"]
EX02 = ["test_task_exists", "test_task_is_shared", "test_valid_post_answers_at_once",
        "test_invalid_post_enqueues_nothing", "test_worker_sends_one_email"]
LESSON = "lessons/02-offload-feedback-email.md#step-3-call-it-with-delay"
HOSTILE = "<script>alert('owned')</script> came back"


def _check(id_, status="passed", **extra):
    return {"event": "check", "id": id_, "title": extra.pop("title", f"The check {id_}"),
            "status": status, **extra}


def _run(number, records, **extra):
    return {"exercise": number, "seed": 4242, "records": records, "broker": "embedded fakeredis",
            "duration": 2.5, "outcome": "completed", "problem": "", "log": "", "notes": [],
            "forged": [], "tripwires": [], "witness": {}, **extra}


def _passing(number, ids):
    return _run(number, [_check("loads")] + [_check(i) for i in ids])


def _ada_results():
    """Exercise 01 passes; exercise 02 fails with words a student's code chose, a skip, a guard."""
    return {"01": _passing("01", EX01), "02": _run("02", [
        _check("loads"),
        _check("test_task_exists", guard=True),
        _check("test_task_is_shared", "failed", observed=f"{HOSTILE}: Connection closed by "
               "server..", expected="a @shared_task", hint="Use @shared_task.", lesson=LESSON),
        _check("test_valid_post_answers_at_once", "skipped",
               observed='needs "The check test_task_is_shared" to pass first'),
        _check("test_invalid_post_enqueues_nothing", "failed", observed="It answered at "
               "/feedback/" + "very-long-path-segment-" * 12 + " and nothing else.",
               expected="a redirect"),
        _check("test_worker_sends_one_email", "error", observed="Your code raised an exception.",
               details="Traceback (most recent call last):\n  File \"feedback/views.py\", line "
                       "3\nValueError: nope"),
    ])}


@pytest.fixture
def written(tmp_path):
    return write_class(tmp_path)


def write_class(tmp_path: Path) -> Path:
    """A graded class of three, written as `make grade` writes it: the output folder."""
    exercises = [find_exercise("01"), find_exercise("02")]
    ada = results.Graded(Submission(tmp_path / "ada", "Ada <Lovelace>", "Ada_Lovelace",
                                    project=tmp_path / "ada", layout="project"), 4242,
                         results=_ada_results())
    flagged = _passing("02", EX02)
    flagged["integrity"] = {"flagged": True, "evidence": [
        {"kind": "witness", "what": "claims a task ran, none crossed the broker",
         "where": "config/settings.py:9"}]}
    eve = results.Graded(Submission(tmp_path / "eve", "eve", "eve", project=tmp_path / "eve",
                                    layout="project"), 7,
                         results={"01": _passing("01", EX01), "02": flagged})
    hugo = results.Graded(Submission(tmp_path / "hugo", "hugo", "hugo",
                                     problem="There is no manage.py in it."), 9)
    out = tmp_path / "out"
    results.write_all(out, [ada, eve, hugo], exercises, {"seed": 1, "isolation": {}})
    return out


class Page(HTMLParser):
    """What a reader of the page meets: tags, links, headings, and the text."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.links, self.headings, self.words, self.open = [], [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))

    def handle_data(self, data):
        self.words.append(data)

    @property
    def text(self):
        return " ".join(" ".join(self.words).split())


def test_feedback_page_shows_scores_sections_and_what_to_do(written):
    text = (written / "feedback" / "Ada_Lovelace.html").read_text()
    page = Page(text)
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) \
        in page.tags
    assert "<script" not in text and "http" not in text.split("</style>")[0]
    # Total (10 + 10 × 1 of 5 scored checks = 12) and each exercise's score, up front.
    assert "12 / 20 points" in page.text
    assert "10/10 points" in page.text and "2/10 points" in page.text
    assert page.headings[0] == 1 and all(b - a <= 1 for a, b in zip(page.headings,
                                                                     page.headings[1:]))
    sections = re.findall(r'<section class="card exercise[^"]*" id="(ex-\d\d)"', text)
    assert sections == ["ex-01", "ex-02"]
    folded = re.search(r'id="ex-01".*?<details(?P<open>[^>]*)>', text, re.S)["open"]
    failing = re.search(r'id="ex-02".*?<details(?P<open>[^>]*)>', text, re.S)["open"]
    assert "open" not in folded and "open" in failing
    assert "✗ failed" in page.text and "✓ passed" not in page.text.split("Exercise 02")[0][-1:]
    assert "✓ held" in page.text and "earns no points" in page.text
    assert 'Not run: needs "The check test_task_is_shared" to pass first' in page.text
    assert "<dt>Observed</dt>" in text and "<dt>Hint</dt>" in text and "<dt>Read</dt>" in text
    assert "<code>make check EX=02 SEED=4242</code>" in text
    assert "ValueError: nope" in page.text


def test_feedback_page_escapes_what_student_code_wrote(written):
    text = (written / "feedback" / "Ada_Lovelace.html").read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(" in text
    assert "Feedback for Ada &lt;Lovelace&gt;" in text
    assert "server.." not in text and "Connection closed by server." in text


def test_lesson_links_open_the_lessons_from_the_feedback_folder(written):
    feedback = written / "feedback"
    links = [h for h in Page((feedback / "Ada_Lovelace.html").read_text()).links
             if ".md" in h]
    assert any(h.endswith("02-offload-feedback-email.md#step-3-call-it-with-delay")
               for h in links)
    for href in links:
        assert (feedback / unquote(href.split("#")[0])).resolve().is_file(), href
    assert lesson_href(LESSON, "https://example.org/encore/lessons") == \
        "https://example.org/encore/lessons/02-offload-feedback-email.md" \
        "#step-3-call-it-with-delay"
    assert relative_base(feedback).endswith("lessons/")


def test_flagged_and_ungradable_pages_say_so_plainly(written):
    eve = Page((written / "feedback" / "eve.html").read_text()).text
    assert "Needs a look" in eve and "exercise 02 scores 0 for now" in eve
    assert "witness: claims a task ran, none crossed the broker (config/settings.py:9)" in eve
    assert "10 / 20 points" in eve
    hugo = Page((written / "feedback" / "hugo.html").read_text()).text
    assert "could not be graded" in hugo and "There is no manage.py in it." in hugo


def test_make_check_html_uses_the_same_page():
    exercise = find_exercise("02")
    run = CheckRun(exercise, Path("."), 11, records=_ada_results()["02"]["records"])
    text = check_page([run], lambda n: f"make check EX={n} SEED=11", "../lessons/")
    assert "<code>make check EX=02 SEED=11</code>" in text
    assert 'href="../lessons/02-offload-feedback-email.md#step-3-call-it-with-delay"' in text
    assert "2/10 points" in Page(text).text and "&lt;script&gt;" in text


def test_summary_html_draws_the_class(written):
    text = (written / "summary.html").read_text()
    page = Page(text)
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) \
        in page.tags
    assert '<svg class="hist"' in text and "<script" not in text
    titles = {c["title"] for s in json.loads((written / "results.json").read_text())["students"]
              for e in s["exercises"] for c in e["checks"] if c["id"] != "loads"}
    assert text.count('<rect class="bar ') == len(EX01) + len(EX02) == len(titles)
    for href in (h for h in page.links if h.startswith("feedback/")):
        assert (written / href).is_file(), href
    first = text.split('id="look-h"')[1].split("</section>")[0]
    assert first.index("eve") < first.index("hugo")  # results not backed come first


def _student(name, exercises, total=0.0, status="graded"):
    return {"name": name, "key": name, "submission": name, "status": status, "notes": [],
            "integrity": [], "suspicious_code": {}, "total": total, "exercises": [
                {"number": n, "score": 0.0, "points": 10, "problem": "", "duration": 1.0,
                 "notes": [], "rerun": "", "integrity": {"flagged": False, "evidence": []},
                 "checks": checks} for n, checks in exercises]}


def _record(id_, status, observed=None):
    return {"id": id_, "title": f"check {id_}", "status": status, "observed": observed}


def test_summary_rounds_shares_and_counts_every_failure():
    assert [percent(2, 3), percent(1, 3), percent(1, 8), percent(1, 2), percent(0, 0)] == \
        [67, 33, 13, 50, 0]
    numbers = [f"{n:02d}" for n in range(1, 8)]
    # One student whose project never loads: the same words in seven exercises.
    broken = _student("gus", [(n, [_record("loads", "failed", "ImportError in settings.py.."),
                                   _record("test_a", "skipped", "cannot run")])
                              for n in numbers])
    # Eleven other messages, each hit by two students (no more than twice each).
    others = [_student(f"s{k}", [("01", [_record("loads", "passed")] + [
        _record(f"test_{m}", "failed", f"Message {'abcdefghijk'[m]} took {k}.{m} s.")
        for m in range(11)])])
        for k in range(2)]
    passing = [_student(f"p{k}", [("01", [_record("test_0", "passed")])]) for k in range(1)]
    document = {"students": [broken, *others, *passing],
                "exercises": [{"number": n, "title": f"Ex {n}", "points": 10} for n in numbers]}
    lines = results._summary(document)
    assert "- 7× (1 student; exercises 01, 02, 03, 04, 05, 06, 07): ImportError in " \
           "settings.py." in lines
    assert "| 01 | check test_0 | 1/3 (33 %) |" in lines
    assert any(line.startswith("- 2× (2 students; exercise 01): Message d took N s.")
               for line in lines)
    view = results.class_view(document)
    html = class_report.summary_page(view, document)
    assert "7×" in html and html.count('<rect class="bar ') == 11 + 7  # a bar per check


def test_two_stops_never_reach_a_report():
    assert tidy("did not start: Connection closed by server..") == \
        "did not start: Connection closed by server."
    assert tidy("it waited... in ../config") == "it waited... in ../config"


@pytest.mark.slow
def test_make_check_writes_the_page_for_a_students_own_run(tmp_path):
    import subprocess
    import sys

    from grader.exercises import REPO
    from grader.stage import write_stage
    write_stage(0, tmp_path / "project")
    report = tmp_path / "out" / "report.html"
    result = subprocess.run([sys.executable, "-m", "grader", "check", "01", "--project",
                             str(tmp_path / "project"), "--seed", "3", "--html", str(report)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "open it in your browser" in result.stdout, result.stderr
    text = report.read_text()
    assert 'name="viewport"' in text and "SEED=3</code>" in text
    assert "0 / 10 points" in Page(text).text
    links = [h for h in Page(text).links if ".md" in h]
    assert links and all((report.parent / unquote(h.split("#")[0])).is_file() for h in links)

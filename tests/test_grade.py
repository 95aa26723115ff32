"""`python -m grader grade` on a class with ordinary and hostile submissions, graded once."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.exercises import REPO, find_exercise
from grader.grade.cli import UsageError, pick_exercises
from grader.grade.engine import rerun_reason, student_seed
from grader.grade.progress import Progress
from grader.grade.submissions import Submission, find_submissions, materialize
from grader.report import TIMING_ADVICE, Style, summary
from grader.runner import CheckRun

from .submissions import build_class, stage_into

SECRET = "hunter2-instructor-secret"
LIMITS = ["--timeout", "30", "--load-timeout", "3", "--check-timeout", "8", "--processes", "64"]


def grade(*args, env_extra=None, timeout=240):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "NO_COLOR")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "grader", "grade", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    out, tmp = root / "out", root / "tmp"
    tmp.mkdir()
    expect = build_class(root / "class", out)
    env = {"ENCORE_TEST_SECRET": SECRET, "TMPDIR": str(tmp)}
    args = [str(root / "class"), "--out", str(out), "--exercises", "01-02", "--jobs", "2",
            "--seed", "7", *LIMITS]
    started = time.monotonic()
    result = grade(*args, env_extra=env)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    data = json.loads((out / "results.json").read_text())
    students = {s["name"]: s for s in data["students"]}
    return dict(root=root, out=out, tmp=tmp, expect=expect, rows=rows, data=data,
                students=students, result=result, args=args, env=env, took=took)


def _words(student: dict) -> str:
    return json.dumps(student, ensure_ascii=False)


def test_every_submission_gets_the_expected_status_and_scores(graded):
    assert "Traceback" not in graded["result"].stdout + graded["result"].stderr
    assert set(graded["rows"]) == set(graded["expect"])
    for name, (status, scores, words) in graded["expect"].items():
        row = graded["rows"][name]
        assert row["status"].startswith(status), (name, row)
        for number, value in scores.items():
            column = next(c for c in row if c.startswith(number))
            statuses = [(c["id"], c["status"]) for e in graded["students"][name]["exercises"]
                        if e["number"] == number for c in e["checks"]]
            assert float(row[column]) == value, (name, number, row, statuses)
        for word in words:
            assert word in _words(graded["students"][name]), (name, word)


def test_partly_correct_work_gets_partial_points(graded):
    bob, frank = graded["rows"]["bob"], graded["rows"]["frank"]
    assert float(bob["02 (/10)"]) < 10 and float(bob["total (/20)"]) >= 10
    assert 0 < float(frank["total (/20)"]) < 20


def test_hostile_runs_are_stopped_and_say_what_happened(graded):
    students = graded["students"]
    ivan = students["ivan"]["exercises"][0]
    assert ivan["outcome"] == "timed out" and "music/models.py, line" in ivan["problem"]
    karl = students["karl"]["exercises"][0]
    assert karl["outcome"] == "stopped" and len(karl["output_tail"]) <= 2000
    assert "memory limit" in " ".join(students["lena"]["exercises"][0]["notes"])
    mike = students["mike"]["exercises"][0]  # stopped by the process limit, or else the clock
    assert mike["duration"] < 20 and ("limit of 64" in " ".join(mike["notes"])
                                      or "config/settings.py, line" in mike["problem"])
    judy = {c["id"]: c["status"] for c in students["judy"]["exercises"][0]["checks"]}
    assert judy["test_debug_task_runs_on_worker"] != "passed"


def test_fake_passing_lines_on_stdout_do_not_count(graded):
    nina = graded["students"]["nina"]["exercises"][0]
    assert nina["score"] == 0
    statuses = {c["id"]: c["status"] for c in nina["checks"]}
    assert statuses["test_celery_module"] == "failed"


def test_student_code_gets_no_secret_and_no_network(graded):
    text = (graded["out"] / "results.json").read_text()
    assert SECRET not in text
    tail = graded["students"]["nina"]["exercises"][0]["output_tail"]
    assert "ENVIRONMENT:" in tail and "ENCORE_TEST_SECRET" not in tail
    if not graded["data"]["isolation"].get("notes"):
        assert "INTERFACES: [(1, 'lo')]" in tail


def test_nothing_outside_a_run_was_written(graded):
    root, out = graded["root"], graded["out"]
    assert not (out / "planted.txt").exists()
    assert not (REPO / "exercises" / "planted.txt").exists()
    assert "written by a student" not in (root / "class" / "alice" / "manage.py").read_text()
    assert "written by a student" not in (out / "gradebook.csv").read_text()
    assert not (root / "escaped.txt").exists() and not Path("/tmp/encore-absolute.txt").exists()


def test_no_process_is_left_behind(graded):
    marker = str(graded["tmp"]).encode()
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        assert marker not in environ, (proc / "cmdline").read_bytes()


def test_results_json_has_every_check_with_its_message(graded):
    data = graded["data"]
    assert data["schema"] == "encore-grade-results/1"
    assert [e["number"] for e in data["exercises"]] == ["01", "02"]
    alice = graded["students"]["alice"]
    assert alice["seed"] == student_seed(7, "alice")
    for exercise in alice["exercises"]:
        assert exercise["broker"] == "embedded fakeredis" and exercise["seed"] == alice["seed"]
        assert exercise["checks"] and all(c["status"] == "passed" for c in exercise["checks"])
    statuses = {c["status"] for s in data["students"] for e in s["exercises"]
                for c in e["checks"]}
    assert statuses <= {"passed", "failed", "skipped", "error", "timed out"}
    bob = graded["students"]["bob"]["exercises"][1]["checks"]
    failing = next(c for c in bob if c["status"] == "failed")
    assert failing["message"].startswith("  ✗ ") and "Observed:" in failing["message"]


def test_feedback_has_the_words_of_make_check(graded):
    feedback = graded["out"] / "feedback"
    text = (feedback / "bob.md").read_text()
    seed = student_seed(7, "bob")
    assert f"replay: make check EX=02 SEED={seed}" in text and "✗ " in text
    assert "Next: exercise 02" in text
    page = (feedback / "bob.html").read_text()
    assert f"<code>make check EX=02 SEED={seed}</code>" in page and 'name="viewport"' in page
    assert "could not be graded" in (feedback / "hugo.md").read_text()
    assert "could not be graded" in (feedback / "hugo.html").read_text()
    summary = (graded["out"] / "summary.md").read_text()
    assert "## Pass rate per check" in summary and "**gina**" in summary
    assert 'href="feedback/gina.html"' in (graded["out"] / "summary.html").read_text()


def test_a_run_whose_timing_check_failed_is_run_again_alone(graded):
    quinn = graded["students"]["quinn"]["exercises"][1]
    assert quinn["score"] == 10 and quinn["rerun"].startswith("Re-run alone: the timing check")
    timed = {c["id"]: c["timed"] for c in quinn["checks"]}
    assert timed["test_valid_post_answers_at_once"] and not timed["test_task_exists"]
    assert "quinn, exercise 02: Re-run alone" in (graded["out"] / "summary.md").read_text()
    assert "run again alone" in graded["result"].stdout
    others = [e for s in graded["data"]["students"] if s["name"] != "quinn"
              for e in s["exercises"] if e["rerun"]]
    assert all(any(c["timed"] for c in e["checks"]) for e in others)


def test_a_rerun_grades_only_what_changed(graded):
    before = (graded["out"] / "gradebook.csv").read_text()
    started = time.monotonic()
    again = grade(*graded["args"], env_extra=graded["env"])
    assert again.returncode == 0 and time.monotonic() - started < 15, again.stderr
    assert (graded["out"] / "gradebook.csv").read_text() == before
    shutil.copytree(graded["root"] / "class" / "alice", graded["root"] / "class" / "zoe")
    again = grade(*graded["args"], env_extra=graded["env"])
    data = json.loads((graded["out"] / "results.json").read_text())
    fresh = [(s["name"], e["number"]) for s in data["students"] for e in s["exercises"]
             if not e["cached"]]
    assert fresh == [("zoe", "01"), ("zoe", "02")], again.stderr


# -- the pieces on their own --------------------------------------------------------------------

def test_bad_input_gets_a_plain_answer(tmp_path):
    result = grade(str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "There is no folder" in result.stderr
    result = grade(str(tmp_path), "--exercises", "seven")
    assert result.returncode == 2 and "--exercises takes numbers" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(UsageError):
        pick_exercises("97-99")
    assert [e.number for e in pick_exercises("01,03")] == ["01", "03"]


def test_layouts_are_found_or_explained(tmp_path):
    (tmp_path / "class").mkdir()
    stage_into(0, tmp_path / "class" / "deep" / "a" / "b" / "c" / "project")
    zipped = tmp_path / "class" / "zipped.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("../../outside.py", "x = 1\n")
        archive.writestr("manage.py", "")
        archive.writestr("config/settings.py", "")
    (tmp_path / "class" / "notes.txt").write_text("hello")
    found = {s.name: s for s in find_submissions(tmp_path / "class")}
    for sub in found.values():
        materialize(sub, tmp_path / "work" / sub.key)
    assert "neither the top of the submission nor starter_project/" in found["deep"].problem
    assert found["zipped"].gradable and "outside.py (points outside" in found["zipped"].notes[0]
    assert "neither a folder nor an archive" in found["notes.txt"].problem
    assert not (tmp_path / "outside.py").exists()


def test_seeds_and_progress_are_plain_and_stable(capsys):
    assert student_seed(1, "ana") == student_seed(1, "ana") != student_seed(2, "ana")
    progress = Progress(4, sys.stdout, every=0)
    for _ in range(4):
        progress.advance()
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("graded 4/4 runs") and "done in" in lines[-1]
    assert Submission(Path("x"), "x", "x").gradable is False


def _recorded(*checks, rerun=""):
    """Records of checks given as (status, timed[, timing]): ``timing`` says whether a failure
    was a duration over its threshold (``fail(..., timing=True)``); it is, unless told."""
    records = [{"event": "check", "id": "loads", "title": "loads", "status": "passed"}]
    records += [{"event": "check", "id": f"test_{n}", "title": f"check {n}", "status": status,
                 **({"timed": True} if timed else {}),
                 **({"timing": (rest or (True,))[0]} if status == "failed" else {})}
                for n, (status, timed, *rest) in enumerate(checks)]
    return {"records": records, "outcome": "completed", "rerun": rerun}


def test_only_runs_with_a_failed_timing_check_are_run_again():
    assert rerun_reason(_recorded(("passed", True), ("failed", False))) == ""
    assert rerun_reason(_recorded(("skipped", True), ("error", False))) == ""
    assert rerun_reason(_recorded(("failed", True), ("passed", False), rerun="before")) == ""
    reason = rerun_reason(_recorded(("passed", False), ("failed", True), ("timed out", True)))
    assert reason.startswith('Re-run alone: the timing checks "check 1", "check 2" failed')
    # A wrong value in a timed check is not a timing failure: no re-run.
    assert rerun_reason(_recorded(("failed", True, False))) == ""


def test_make_check_says_to_run_a_failed_timing_check_again():
    run = CheckRun(find_exercise("02"), REPO, 1, records=_recorded(("failed", True))["records"])
    assert TIMING_ADVICE in summary(run, "-", Style(False))
    run.records = _recorded(("failed", False))["records"]
    assert TIMING_ADVICE not in summary(run, "-", Style(False))
    run.records = _recorded(("failed", True, False))["records"]
    assert TIMING_ADVICE not in summary(run, "-", Style(False))


def test_fixture_lines_are_never_scored_as_checks():
    from grader.grade.results import SET_UP
    from grader.harness.fixtures import FIXTURE_TITLES
    assert set(FIXTURE_TITLES) <= SET_UP

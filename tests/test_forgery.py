"""Grades that cannot be forged: forgers are zeroed and flagged, honest projects never are.

The forgers (tests/forgers/) are what a student who has read this repository would try; the
honest side is every stage 00-08 on every exercise, and every RIGHT answer of tests/answers/.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.exercises import all_exercises
from grader.grade.pool import LocalPool
from grader.grade.runs import DEFAULT_LIMITS
from grader.grade.verdict import scan
from grader.stage import StageError, write_stage

from .answers import all_right, apply
from .forgers import (ESCAPES, FORGERS, KEPT_FAKE, POSTED_EDITS, PRODUCER_FAKE,
                      RECEIVER_FAKE, SIGNAL_DELAY, SIGNAL_FAKE, THREAD_EDITS)
from .test_grade import LIMITS, grade

HONEST = (0, 2, 3)


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    root = tmp_path_factory.mktemp("forgery")
    starter = root / "starter"
    write_stage(0, starter)
    for name, (file, code) in FORGERS.items():
        project = root / "class" / name
        shutil.copytree(starter, project)
        (project / file).write_text((project / file).read_text() + "\n" + code + "\n")
    marker = f"encore_escape_{root.name}.py"
    for name, (file, code) in ESCAPES.items():
        project = root / "class" / name
        shutil.copytree(starter, project)
        (project / file).write_text((project / file).read_text() + "\n"
                                    + code.replace("{marker}", marker)
                                    .replace("{home}", str(Path.home())) + "\n")
    for number in HONEST:
        write_stage(number, root / "class" / f"honest-{number:02d}")
    for name, fake in (("signal", SIGNAL_FAKE), ("receiver", RECEIVER_FAKE),
                       ("producer", PRODUCER_FAKE), ("kept", KEPT_FAKE)):
        views = root / "class" / name / "feedback" / "views.py"
        write_stage(2, views.parents[1])
        assert SIGNAL_DELAY in views.read_text()
        views.write_text(views.read_text().replace(SIGNAL_DELAY, fake))
    for name, edits in (("thread", THREAD_EDITS), ("posted", POSTED_EDITS)):
        write_stage(2, root / "class" / name)
        for file, old, new in edits:
            path = root / "class" / name / file
            assert old in path.read_text()
            path.write_text(path.read_text().replace(old, new, 1))
    out = root / "out"
    result = grade(str(root / "class"), "--out", str(out), "--exercises", "01-03",
                   "--jobs", "2", "--seed", "3", *LIMITS)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    data = json.loads((out / "results.json").read_text())
    return dict(out=out, rows=rows, result=result, marker=marker,
                students={s["name"]: s for s in data["students"]},
                summary=(out / "summary.md").read_text())


@pytest.mark.parametrize("name", sorted(FORGERS))
def test_forger_is_zeroed_and_flagged(forged, name):
    row, student = forged["rows"][name], forged["students"][name]
    assert row["status"].startswith("needs a look"), row
    assert float(row["total (/30)"]) == 0, row
    flagged = [e for e in student["exercises"] if e["integrity"]["flagged"]]
    assert flagged, student["exercises"]
    assert all(e["score"] == 0 for e in student["exercises"])
    evidence = [item for e in flagged for item in e["integrity"]["evidence"]]
    assert all(item["what"] for item in evidence)
    feedback = (forged["out"] / "feedback" / f"{student['key']}.md").read_text()
    assert "Needs a look" in feedback
    assert evidence[0]["what"][:60] in feedback
    assert f"**{name}**" in forged["summary"]
    assert "need a look" in forged["result"].stdout


def test_forgers_are_caught_at_run_time_not_only_by_the_scan(forged):
    """Each forger sets off a runtime signal (channel, protocol, tripwire or witness) in at
    least one exercise: the static scan alone, which a student can dodge, is not what holds."""
    for name in FORGERS:
        kinds = {item["kind"].split(":")[0] for e in forged["students"][name]["exercises"]
                 for item in e["integrity"]["evidence"]}
        assert kinds & {"channel", "protocol", "tripwire", "witness"}, (name, kinds)


def test_honest_stages_are_not_flagged(forged):
    for number in HONEST:
        name = f"honest-{number:02d}"
        row, student = forged["rows"][name], forged["students"][name]
        assert row["status"] == "graded", row
        assert not student["suspicious_code"]["strong"]
        for exercise in student["exercises"]:
            assert not exercise["integrity"]["flagged"], exercise["integrity"]
    assert forged["students"]["honest-03"]["exercises"][2]["score"] == 10


def test_a_run_writes_nothing_outside_its_own_folder(forged):
    """Every mount is read-only to a run (the Python installation, home, /tmp, /dev/shm) and
    its /proc shows only its own processes, not the keeper that holds its key."""
    import os
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    folders = (stdlib, str(Path.home()), "/tmp", "/dev/shm", os.path.dirname(stdlib))
    written = [f for f in folders if os.path.exists(os.path.join(f, forged["marker"]))]
    for folder in written:
        os.unlink(os.path.join(folder, forged["marker"]))
    assert not written
    tail = "".join(e["output_tail"] for e in forged["students"]["escape"]["exercises"])
    assert "STOPPED" in tail and "ESCAPED" not in tail, tail
    assert "PROCESSES ['1']" in tail, tail


def test_a_run_cannot_fill_the_keeper_with_broker_data(forged):
    """The broker lives in the keeper, outside the run's memory limit: its memory is capped."""
    flood = forged["students"]["broker-flood"]["exercises"]
    for run in flood:
        assert "FLOODED" not in run["output_tail"], run
        assert run["score"] == 0, run
        # Refused by the capped broker, as it is on a quiet machine; on a busy one the run
        # may end first (crashed or timed out): either way the flood never got through.
        if run["outcome"] == "completed":
            assert "REFUSED" in run["output_tail"], run
            # Refused by the cap (it notes so), or, under load, by the client's own timeout or
            # the run's own memory limit, before the keeper stored it.
            gave_up = ("Timeout", "ConnectionError", "MemoryError")
            assert any("the most a run may" in note for note in run["notes"]) or any(
                word in run["output_tail"] for word in gave_up), run
    assert any(run["outcome"] == "completed" for run in flood) or all(
        run["outcome"] in ("crashed", "timed out") for run in flood), flood


@pytest.mark.parametrize("name", ["signal", "receiver"])
def test_a_publication_faked_with_celery_s_signal_counts_for_nothing(forged, name):
    """The harness hears only the signals Celery itself sends, and keeps what it heard where
    only its receivers add (harness/senders.py)."""
    ex02 = forged["students"][name]["exercises"][1]
    status = {c["id"]: c["status"] for c in ex02["checks"]}
    assert status["test_valid_post_answers_at_once"] == "failed", status
    assert "published no send_feedback_email_task message" in json.dumps(ex02["checks"])


def test_a_recorder_s_store_cannot_be_replaced(forged):
    """Published keeps its messages in a SealedField (a property): set on the instance it is
    refused, set on the class the tripwires report it."""
    ex02 = forged["students"]["kept"]["exercises"][1]
    assert ex02["integrity"]["flagged"] and ex02["score"] == 0, ex02["integrity"]
    assert any("Published._kept was replaced" in e["what"]
               for e in ex02["integrity"]["evidence"]), ex02["integrity"]


def test_a_message_celery_published_must_cross_the_broker(forged):
    """A publication through Celery's send_task_message with a producer that sends nothing:
    Celery said it published a message that never crossed the broker (the witness holds each
    id the harness heard from after_task_publish)."""
    ex02 = forged["students"]["producer"]["exercises"][1]
    assert ex02["integrity"]["flagged"] and ex02["score"] == 0, ex02["integrity"]
    assert any(e["kind"] == "witness" and "no message with that id" in e["what"]
               for e in ex02["integrity"]["evidence"]), ex02["integrity"]


def test_an_email_sent_by_a_thread_named_like_the_worker_is_not_the_worker_s(forged):
    ex02 = forged["students"]["thread"]["exercises"][1]
    status = {c["id"]: c["status"] for c in ex02["checks"]}
    assert status["test_valid_post_answers_at_once"] == "passed", ex02["checks"]
    assert status["test_worker_sends_one_email"] == "failed", ex02["checks"]


def test_what_a_checker_keeps_for_its_later_checks_is_written_by_it_alone(forged):
    """Checker 02's `posted` (the valid POST's outbox) is kept where only the checker writes
    (tripwire.Carried): a view that puts a made-up outbox there is flagged."""
    ex02 = forged["students"]["posted"]["exercises"][1]
    assert ex02["integrity"]["flagged"] and ex02["score"] == 0, ex02["integrity"]
    assert any("keeps for its later checks" in e["what"] and "views.py" in e.get("where", "")
               for e in ex02["integrity"]["evidence"]), ex02["integrity"]


def test_the_channel_is_not_in_the_environment(forged):
    tail = "".join(e["output_tail"] for e in forged["students"]["pipe"]["exercises"])
    assert "ENV KEYS:" in tail
    for name in ("GRADER_RESULTS_FD", "GRADER_KEY_FD", "GRADER_TRIPWIRE_FD"):
        assert name not in tail


def test_forged_lines_on_the_pipe_are_refused(forged):
    evidence = [item for e in forged["students"]["pipe"]["exercises"]
                for item in e["integrity"]["evidence"]]
    assert any(item["kind"] == "channel" and "signature" in item["what"] for item in evidence)


def test_scan_sees_the_tricks_and_not_the_stages(tmp_path):
    for number in range(len(all_exercises()) + 1):
        try:
            write_stage(number, tmp_path / f"s{number}")
        except StageError:
            continue
        assert scan(tmp_path / f"s{number}")["strong"] == [], number
    project = tmp_path / "s0"
    settings = project / "config" / "settings.py"
    settings.write_text(settings.read_text() + FORGERS["hidden"][1])
    assert scan(project)["strong"]


def _honest_jobs(root: Path):
    """(job id, exercise, project) for every stage on every exercise, and every RIGHT answer
    on its own exercise."""
    numbers = [e.number for e in all_exercises()]
    stages = {}
    for n in range(len(numbers) + 1):
        try:
            write_stage(n, root / f"stage-{n:02d}")
        except StageError:
            continue
        stages[n] = root / f"stage-{n:02d}"
    jobs = [(f"stage-{n:02d}:{number}", number, folder)
            for n, folder in stages.items() for number in numbers if int(number) in stages]
    for i, right in enumerate(all_right()):
        if right.stage not in stages:
            continue
        folder = root / f"right-{i:02d}"
        shutil.copytree(stages[right.stage], folder)
        try:
            apply(folder, right.edits)
        except AssertionError:
            continue  # an answer out of step with the committed stage: test_answers says so
        jobs.append((f"right-{i:02d}:{right.exercise}", right.exercise, folder))
    return jobs


def test_no_honest_run_is_ever_flagged():
    """Every stage on every exercise and every RIGHT answer, through the real fork server,
    broker witness and tripwires: no evidence at all."""
    root = Path(tempfile.mkdtemp(prefix="encore-honest-"))
    pool = LocalPool(2, root / "work")
    try:
        jobs = _honest_jobs(root)
        waiting, found = list(jobs), {}
        while len(found) < len(jobs):
            while waiting and pool.free > 0:
                job_id, number, folder = waiting.pop(0)
                pool.submit({"id": job_id, "exercise": number, "seed": 11,
                             "limits": DEFAULT_LIMITS, "content_hash": job_id.replace(":", "-")}, folder)
            for job_id, result in pool.wait(0.5):
                found[job_id] = result
        flagged = {job_id: r["integrity"]["evidence"] for job_id, r in found.items()
                   if r["integrity"]["flagged"]}
        assert not flagged, json.dumps(flagged, indent=1)
        assert len(found) == len(jobs)
    finally:
        pool.close()
        shutil.rmtree(root, ignore_errors=True)

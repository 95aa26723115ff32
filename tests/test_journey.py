"""What a stuck student reaches for: hints, the solution, doctor, the queue and watch mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.exercises import REPO
from grader.harness.broker import EmbeddedRedis
from grader.processes import stop_group

ENV = {**{k: v for k, v in os.environ.items()
          if k not in ("REDIS_URL", "NO_COLOR") and not k.startswith(("CELERY_", "GRADER_"))},
       "DEBUG": "True"}  # the student's own machine: settings fail closed without it


def grader(*args, env=None, timeout=60, **kwargs):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO,
                          env={**ENV, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)


def test_hints_come_one_at_a_time_and_start_again(tmp_path):
    env = {"ENCORE_HINTS_DIR": str(tmp_path)}
    first = grader("hint", "02", env=env).stdout
    second = grader("hint", "02", env=env).stdout
    assert "[1 of" in first and "[2 of" in second and "(seen) Hint 1" in second
    for _ in range(8):
        last = grader("hint", "02", env=env).stdout
    assert "That was the last hint" in last and "make solution EX=02" in last
    grader("hint", "02", "--reset", env=env)
    assert "[1 of" in grader("hint", "02", env=env).stdout


def test_solution_shows_a_diff_applies_on_yes_and_restores(stage_copy, tmp_path):
    project = stage_copy(1)
    env = {"ENCORE_BACKUPS_DIR": str(tmp_path / "backups")}
    views = project / "feedback" / "views.py"
    before = views.read_text()
    shown = grader("solution", "02", "--project", str(project), env=env)
    assert shown.returncode == 0 and "+++ solution 02: feedback/views.py" in shown.stdout
    assert "new file feedback/tasks.py" in shown.stdout and "Nothing changed" in shown.stdout
    assert views.read_text() == before and not (project / "feedback" / "tasks.py").exists()
    applied = grader("solution", "02", "--project", str(project), "--yes", env=env)
    assert applied.returncode == 0 and (project / "feedback" / "tasks.py").is_file()
    solution = REPO / "solutions" / "02-offload-feedback-email" / "feedback" / "views.py"
    assert views.read_text() == solution.read_text()
    assert "already has every file" in grader("solution", "02", "--project", str(project),
                                              env=env).stdout
    restored = grader("solution", "02", "--project", str(project), "--restore", env=env)
    assert restored.returncode == 0, restored.stderr
    assert views.read_text() == before and not (project / "feedback" / "tasks.py").exists()


@pytest.fixture
def broker():
    with EmbeddedRedis() as server:
        yield server


def _worker(project: Path, url: str, log: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-l", "info",
         "--without-mingle", "--without-gossip"], cwd=project,
        env={**ENV, "REDIS_URL": url}, stdout=open(log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 30
    while "ready." not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return process


def test_doctor_names_the_mistakes_students_make(stage_copy, broker, tmp_path):
    old, new = stage_copy(1), stage_copy(2)
    worker = _worker(old, broker.url(0), tmp_path / "worker.log")
    try:
        # A worker started before the task existed.
        found = grader("doctor", "--project", str(new), env={"REDIS_URL": broker.url(0)})
        assert found.returncode == 1, found.stdout + found.stderr
        assert "does not know feedback.tasks.send_feedback_email_task" in found.stdout
        assert "Restart the worker" in found.stdout
        # The project on another database than the worker.
        found = grader("doctor", "--project", str(new), env={"REDIS_URL": broker.url(3)})
        assert "your worker and your project use different databases" in found.stdout
        # A typo in the settings namespace.
        celery_py = new / "config" / "celery.py"
        celery_py.write_text(celery_py.read_text().replace('namespace="CELERY"',
                                                           'namespace="CELRY"'))
        found = grader("doctor", "--project", str(new), env={"REDIS_URL": broker.url(0)})
        assert "does not read your CELERY_ settings" in found.stdout, found.stdout
        # All well: the worker knows every task of its own project.
        found = grader("doctor", "--project", str(old), env={"REDIS_URL": broker.url(0)})
        assert found.returncode == 0 and "Nothing wrong" in found.stdout, found.stdout
    finally:
        stop_group(worker)
    for result in (found,):
        assert "Traceback" not in result.stdout + result.stderr


def test_doctor_and_queue_say_when_no_broker_answers(stage_copy):
    project = stage_copy(1)
    for command in ("doctor", "queue"):
        result = grader(command, "--project", str(project),
                        env={"REDIS_URL": "redis://127.0.0.1:9/0"})
        assert result.returncode == 1 and "Nothing answers" in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr


def test_queue_counts_the_messages_waiting_for_a_worker(stage_copy, broker):
    project = stage_copy(2)
    send = ("import django, os; django.setup(); "
            "from feedback.tasks import send_feedback_email_task as t; "
            "[t.delay('a@example.com', 'hi') for _ in range(3)]")
    subprocess.run([sys.executable, "-c", send], cwd=project, check=True, timeout=60,
                   env={**ENV, "REDIS_URL": broker.url(0),
                        "DJANGO_SETTINGS_MODULE": "config.settings"})
    shown = grader("queue", "--project", str(project), env={"REDIS_URL": broker.url(0)})
    assert "queue 'celery': 3 messages waiting" in shown.stdout, shown.stdout + shown.stderr


def test_watch_checks_again_after_a_save_and_stops_on_ctrl_c(stage_copy, tmp_path):
    project = stage_copy(1)
    log = tmp_path / "watch.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "watch", "01", "--project", str(project)], cwd=REPO,
        env=ENV, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def wait_for(text, count):
            deadline = time.monotonic() + 60
            while log.read_text().count(text) < count:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        wait_for("Watching", 1)
        (project / "config" / "settings.py").write_text(
            (project / "config" / "settings.py").read_text() + "\n# saved\n")
        wait_for("Watching", 2)
        assert "Changed: config/settings.py" in log.read_text()
        assert log.read_text().count("Exercise 01") == 2
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(20) == 0
        assert "Stopped watching." in log.read_text()
    finally:
        stop_group(process)

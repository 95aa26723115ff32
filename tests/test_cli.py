"""`make check` and `make stage` as a student meets them: plain errors, deadlines, no leftovers."""

import os
import subprocess
import sys
import time
from pathlib import Path

from grader.exercises import REPO

from .conftest import check, failed_check, render, words

ENV = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "NO_COLOR")}


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def processes_of(project: Path) -> list[str]:
    """Command lines of processes started for a check of ``project`` that still run."""
    marker = f"GRADER_PROJECT={project.resolve()}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_pristine_starter_fails_exercise_01_saying_what_is_missing(stages):
    # The starter as committed: the student's own starter_project/ may be anywhere by now.
    result = cli("check", "01", "--project", str(stages[0]))
    assert result.returncode == 1, result.stdout
    assert "✗ config/celery.py defines a Celery app" in result.stdout
    assert "There is no config/celery.py in your project yet" in result.stdout
    assert "needs \"config/celery.py defines a Celery app\" to pass first" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_project_that_hangs_on_import_is_stopped_with_a_clear_message(stage_copy):
    project = stage_copy(1)
    models = project / "music" / "models.py"
    models.write_text(models.read_text() + "\nimport time\ntime.sleep(3600)\n")
    started = time.monotonic()
    run = check("01", project, load_limit=3)
    assert time.monotonic() - started < 15, render(run)
    assert run.outcome == "timed out" and not run.passed
    assert "did not finish loading within 3 s" in run.problem
    assert "music/models.py, line" in run.problem, run.problem


def test_a_project_with_a_syntax_error_shows_the_students_own_traceback(stage_copy):
    project = stage_copy(2)
    (project / "feedback" / "tasks.py").write_text("def broken(:\n")
    run = check("02", project)
    record = failed_check(run, "defines the task")
    assert "SyntaxError" in words(record) and "feedback/tasks.py" in words(record), render(run)
    assert "site-packages" not in words(record), render(run)


def test_a_project_whose_migrations_fail_is_told_so(stage_copy):
    project = stage_copy(1)
    (project / "music" / "migrations" / "0002_broken.py").write_text(
        "from django.db import migrations\n\n\ndef explode(apps, schema_editor):\n"
        "    raise RuntimeError('bad data migration')\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('music', '0001_initial')]\n"
        "    operations = [migrations.RunPython(explode)]\n")
    run = check("01", project)
    record = failed_check(run, "Your project loads")
    assert "Your migrations do not run on a fresh database" in words(record), render(run)
    assert "music/migrations/0002_broken.py" in words(record), render(run)
    assert all(c["status"] == "skipped" for c in run.checks[1:]), render(run)


def test_a_view_that_never_answers_times_out_that_check_only(stage_copy):
    project = stage_copy(2)
    views = project / "feedback" / "views.py"
    views.write_text(views.read_text().replace(
        "        form = FeedbackForm(request.POST)\n",
        "        import time\n        time.sleep(3600)\n        form = FeedbackForm(request.POST)\n"))
    run = check("02", project, check_limit=2)
    record = failed_check(run, "redirects at once")
    assert record["status"] == "timed out", render(run)
    assert "feedback/views.py" in record["observed"], render(run)
    assert run.outcome == "completed" and run.duration < 15, render(run)


def test_no_checker_process_outlives_its_run(stage_copy):
    project = stage_copy(2)
    tasks = project / "feedback" / "tasks.py"
    tasks.write_text(tasks.read_text() + "\nimport subprocess\n"
                     "subprocess.Popen(['sleep', '300'], start_new_session=False)\n")
    run = check("02", project)
    assert run.checks, render(run)
    assert processes_of(project) == []


def test_bad_project_and_broker_get_short_plain_errors(tmp_path):
    result = cli("check", "01", "--project", str(tmp_path))
    assert result.returncode == 2 and "no manage.py" in result.stderr
    result = cli("check", "01", "--broker", "redis://127.0.0.1:9/0")
    assert result.returncode == 2 and "names database 0" in result.stderr
    assert "BROKER=redis://127.0.0.1:9/9" in result.stderr  # the database to give instead
    result = cli("check", "01", "--broker", "redis://127.0.0.1:9/9")
    assert result.returncode == 1
    assert "Nothing answered at redis://127.0.0.1:9/9" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    result = cli("check", "42")
    assert result.returncode == 2 and "There is no exercise '42'" in result.stderr


def test_stage_cli_writes_a_stage_and_refuses_a_used_folder(tmp_path):
    result = cli("stage", "03", str(tmp_path / "s3"))
    assert result.returncode == 0 and "solutions 01" not in result.stderr
    assert (tmp_path / "s3" / "search" / "tasks.py").is_file()
    result = cli("stage", "03", str(tmp_path / "s3"))
    assert result.returncode == 2 and "not empty" in result.stderr

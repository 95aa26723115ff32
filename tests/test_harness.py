"""The harness's pieces on their own: broker, clock, outbox, fake data, tracebacks, exercises."""

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from celery import Celery
from celery.schedules import crontab

from grader.exercises import UnknownExercise, all_exercises, find_exercise
from grader.harness.broker import BrokerUnreachable, EmbeddedRedis, checkable, ping, redact
from grader.harness.clock import BeatClock
from grader.harness.fake import Fake
from grader.harness.tracebacks import student_traceback
from grader.stage import StageError, write_stage


def test_embedded_broker_keeps_the_connection_after_an_error_reply():
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url(0), single_connection_client=True)
        client.set("key", "value")
        first = client.client_id()
        with pytest.raises(redis.ResponseError):
            client.lpush("key", "x")  # WRONGTYPE
        with pytest.raises(redis.exceptions.NoScriptError):
            client.evalsha("0" * 40, 0)
        assert client.ping() is True
        assert client.client_id() == first  # still the first connection: no reconnect
        client.close()


def test_embedded_broker_frees_its_port_and_threads():
    before = threading.active_count()
    with EmbeddedRedis() as server:
        port = server.port
        assert ping(server.url(3)).ping()
    with EmbeddedRedis(port=port):  # the port is free again at once
        pass
    assert threading.active_count() <= before + 1


def test_unreachable_broker_says_what_to_do_within_the_timeout():
    with pytest.raises(BrokerUnreachable) as caught:
        ping("redis://127.0.0.1:9/0", timeout=0.5)
    assert "Nothing answered at redis://127.0.0.1:9/0" in str(caught.value)
    assert "embedded broker" in caught.value.hint
    with pytest.raises(BrokerUnreachable, match="is not a Redis URL"):
        ping("amqp://guest@localhost//")


def test_checks_never_use_database_zero_and_never_print_passwords():
    assert checkable("redis://h:6379/9") == "redis://h:6379/9"
    for url in ("redis://h:6379", "redis://h:6379/", "redis://h:6379/0"):
        with pytest.raises(BrokerUnreachable) as refused:
            checkable(url)
        assert "BROKER=redis://h:6379/9" in refused.value.hint, refused.value.hint
    assert redact("redis://:s3cret@h:6379/2") == "redis://:***@h:6379/2"


def _app(tz="UTC", **schedule):
    app = Celery("clock-test", set_as_current=False)
    app.conf.timezone = tz
    app.conf.beat_schedule = {name: {"task": f"t.{name}", "schedule": s}
                              for name, s in schedule.items()}
    return app


def test_clock_sends_an_interval_entry_when_due_and_not_before():
    start = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
    clock = BeatClock(_app(daily=timedelta(hours=24)), start)
    assert clock.run_for(timedelta(hours=23, minutes=59)) == []
    sends = clock.run_for(timedelta(days=2, minutes=1))
    assert [s.at.replace(microsecond=0) for s in sends] == [
        start + timedelta(days=1), start + timedelta(days=2)]


def test_clock_runs_a_crontab_in_local_time_across_a_dst_change():
    paris = ZoneInfo("Europe/Paris")
    app = _app("Europe/Paris", weekly=crontab(minute=30, hour=7, day_of_week="mon"))
    clock = BeatClock(app, datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc))
    sends = clock.run_for(timedelta(days=14))
    local = [s.at.astimezone(paris) for s in sends]
    assert [(t.date().isoformat(), t.hour, t.minute) for t in local] == [
        ("2026-03-23", 7, 30), ("2026-03-30", 7, 30)]  # the clocks changed on the 29th
    clock.close()
    assert "now" not in app.__dict__


def test_fake_data_replays_from_its_seed():
    first, second = Fake(42), Fake(42)
    assert [first.email(), first.title(), first.message()] == \
           [second.email(), second.title(), second.message()]
    assert Fake(43).email() != Fake(42).email()


def test_tracebacks_keep_only_the_students_frames(tmp_path):
    student = tmp_path / "views.py"
    student.write_text("def view():\n    raise ValueError('boom')\n")
    namespace = {}
    exec(compile(student.read_text(), str(student), "exec"), namespace)
    try:
        namespace["view"]()
    except ValueError as exc:
        text = student_traceback(exc, tmp_path)
    assert text.splitlines() == ["Traceback (your files only):",
                                 '  File "views.py", line 2, in view',
                                 "    raise ValueError('boom')",
                                 "ValueError: boom"]


def test_exercises_are_found_by_number_or_name():
    numbers = [e.number for e in all_exercises()]
    assert numbers == sorted(numbers) and numbers[:3] == ["01", "02", "03"]
    assert find_exercise("2").name == find_exercise("02-offload-feedback-email").name
    with pytest.raises(UnknownExercise, match="The exercises are: 01, 02"):
        find_exercise("99")


def test_stage_refuses_a_folder_in_use_and_unknown_stages(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StageError, match="not empty"):
        write_stage(1, tmp_path / "busy")
    with pytest.raises(StageError, match="stages go from 00"):
        write_stage(int(all_exercises()[-1].number) + 1, tmp_path / "new")


def test_stage_applies_solutions_in_order(tmp_path):
    write_stage(2, tmp_path / "s2")
    assert (tmp_path / "s2" / "config" / "celery.py").is_file()
    assert "send_feedback_email_task.delay(" in (tmp_path / "s2/feedback/views.py").read_text()
    assert not (tmp_path / "s2" / "search" / "tasks.py").exists()
    assert not list(Path(tmp_path / "s2").rglob("__pycache__"))


def test_redis_urls_compare_by_server_and_database_not_by_spelling():
    from grader.harness.urls import first_url, same_database, same_server
    assert same_database("redis://localhost", "redis://127.0.0.1:6379/")
    assert same_database("redis://localhost/0", "redis://127.0.0.1:6379/00")
    assert not same_database("redis://localhost/0/", "redis://127.0.0.1:6379/0")  # kombu refuses
    assert same_database("redis://LOCALHOST:6379/", "redis://[::1]:6379/0")
    assert not same_database("redis://127.0.0.1:6379/", "redis://[::1]:6379/0")
    assert same_database("redis://:pw@127.0.0.1:7000/3", "redis://127.0.0.1:7000/3")
    assert same_server("redis://127.0.0.1:7000/3", "redis://localhost:7000/5")
    assert not same_database("redis://127.0.0.1:7000/3", "redis://localhost:7000/5")
    assert not same_server("redis://localhost:6379/0", "redis://127.0.0.1:7000/0")
    assert not same_server("redis://redis:6379/0", "redis://127.0.0.1:6379/0")
    assert not same_server("rediss://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0")
    assert not same_server("amqp://guest@localhost//", "redis://127.0.0.1:6379/0")
    assert not same_server(None, "redis://127.0.0.1:6379/0")
    assert first_url(["redis://a:1/0", "redis://b:1/0"]) == "redis://a:1/0"
    assert first_url("redis://a:1/0;redis://b:1/0") == "redis://a:1/0"


def test_messages_end_with_one_full_stop():
    from grader.harness.failures import sentence
    assert sentence("did not start: Connection closed by server.") == \
        "did not start: Connection closed by server."
    assert sentence("did not start: Connection closed by server") == \
        "did not start: Connection closed by server."
    assert sentence("it stopped..") == "it stopped."
    assert sentence("Is Redis running?") == "Is Redis running?"
    from grader.harness import CheckFailed
    failure = CheckFailed("The worker did not start: Connection closed by server.. Then "
                          "it waited... in ../config, or cd ..", "it to start..")
    assert failure.observed == ("The worker did not start: Connection closed by server. Then "
                                "it waited... in ../config, or cd ..")
    assert failure.expected == "it to start."


def test_the_project_loads_as_in_production_and_finds_only_redis_url(tmp_path):
    import environ

    from grader.harness.project import CELERY_URL_VARIABLES, checker_environment

    variables = checker_environment("redis://127.0.0.1:6400/0", tmp_path, 7)
    assert not set(variables) & set(CELERY_URL_VARIABLES)  # the app must find REDIS_URL itself
    assert variables["REDIS_URL"] == "redis://127.0.0.1:6400/0"
    parsed = environ.Env.parse_value(variables["DEBUG"], bool)
    assert parsed is False  # the starter reads DEBUG with env.bool(...)
    assert "testserver" in variables["ALLOWED_HOSTS"].split(",")


def test_the_watch_shows_worker_failures_and_unknown_tasks_under_a_failed_check(tmp_path):
    from celery.signals import task_failure, task_prerun, task_unknown

    from grader.harness.task_signals import Watch

    student = tmp_path / "tasks.py"
    student.write_text("def work():\n    raise KeyError('album')\n")
    namespace = {}
    exec(compile(student.read_text(), str(student), "exec"), namespace)
    watch = Watch(tmp_path).connect()
    task = type("Task", (), {"name": "music.tasks.work"})()

    def on_the_worker(task_id):
        task_prerun.send(sender=task, task_id=task_id, task=task)
        try:
            namespace["work"]()
        except KeyError as exc:
            task_failure.send(sender=task, task_id=task_id, exception=exc,
                              traceback=exc.__traceback__)
        task_unknown.send(sender=None, name="music.tasks.wrok", id="1", message=None, exc=None)

    thread = threading.Thread(target=on_the_worker, args=("begun-in-this-check",))
    thread.start()
    thread.join()
    passed = watch.judge({"id": "a", "title": "t", "status": "passed"})
    assert "details" not in passed
    details = watch.judge({"id": "a", "title": "t", "status": "failed"})["details"]
    assert "Your task music.tasks.work raised on the worker:" in details
    assert 'File "tasks.py", line 2, in work' in details and "KeyError: 'album'" in details
    assert "The worker does not know the task music.tasks.wrok" in details
    watch.reset()
    assert "details" not in watch.judge({"id": "b", "title": "t", "status": "failed"})
    # A task of the check before, whose task_failure arrives late: not this check's cause.
    late = threading.Thread(target=lambda: task_failure.send(
        sender=task, task_id="begun-in-this-check", exception=KeyError("late"), traceback=None))
    late.start()
    late.join()
    assert "details" not in watch.judge({"id": "b", "title": "t", "status": "failed"})
    task_prerun.disconnect(watch._prerun)
    task_failure.disconnect(watch._failure)
    task_unknown.disconnect(watch._unknown)


_PROBE_CHECKER = '''
import time

from grader.harness import fail


def project_environment(fake):
    return {"DIGEST_RECIPIENTS": "one@example.com,two@example.com"}


def test_environment(project, environment):
    """the project started with the chosen environment, as in production"""
    assert project.settings.DIGEST_RECIPIENTS == ["one@example.com", "two@example.com"]
    assert environment["DIGEST_RECIPIENTS"] == "one@example.com,two@example.com"
    assert project.settings.DEBUG is False
    assert not [name for name in environment if name.startswith("CELERY_BROKER")]


def test_unknown_task(celery_app, worker):
    """a task the worker does not know"""
    result = celery_app.send_task("encore.not_a_task")
    try:
        result.get(timeout=5)
    except Exception:
        time.sleep(0.3)  # the worker sends task_unknown just after it stores the failure
    fail("it failed", "nothing")
'''


def test_checks_get_their_environment_and_hear_of_unknown_tasks(tmp_path):
    from grader.exercises import Exercise
    from grader.runner import run_checker

    folder = tmp_path / "99-probe"
    folder.mkdir()
    (folder / "check.py").write_text(_PROBE_CHECKER)
    write_stage(1, tmp_path / "s1")
    run = run_checker(Exercise("99", "probe", folder), tmp_path / "s1", seed=5)
    checks = {c["title"]: c for c in run.checks}
    assert checks["the project started with the chosen environment, as in production"][
        "status"] == "passed", run.log
    unknown = checks["a task the worker does not know"]
    assert "The worker does not know the task encore.not_a_task" in unknown["details"]

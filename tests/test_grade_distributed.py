"""`grade --backend celery`: two grading workers on a real Redis and on RabbitMQ give the
gradebook the local backend gives; and the Gradescope mode."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.exercises import REPO
from grader.processes import stop_group

from .submissions import stage_into, zip_folder
from .test_grade import grade

BROKERS = {"redis": "redis://127.0.0.1:6379/11", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    """Three students and the local backend's gradebook for them."""
    root = tmp_path_factory.mktemp("distributed")
    stage_into(3, root / "class" / "ana")
    zip_folder(stage_into(0, root / "parts" / "ben"), root / "class" / "ben.zip")
    (root / "class" / "cleo").mkdir()
    local = grade(str(root / "class"), "--out", str(root / "local"), "--exercises", "01",
                  "--seed", "3")
    assert local.returncode == 0, local.stderr
    return root


@pytest.mark.parametrize("name", list(BROKERS))
def test_two_celery_workers_give_the_local_gradebook(small_class, name, tmp_path):
    url = BROKERS[name]
    if not _answers(6379 if name == "redis" else 5672):
        pytest.skip(f"no {name} on this machine")
    if name == "redis":
        import redis
        redis.Redis.from_url(url).flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))}
    env.update(GRADER_BROKER_URL=url, PYTHONPATH=str(REPO))
    from grader.distributed import make_app
    make_app(url).control.purge()
    workers = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "grader.distributed", "worker", "-P", "solo",
         "-n", f"grader{n}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
         "-l", "warning"], cwd=REPO, env=env, stdout=open(tmp_path / f"worker{n}.log", "w"),
        stderr=subprocess.STDOUT, start_new_session=True) for n in (1, 2)]
    try:
        out = tmp_path / "out"
        result = grade(str(small_class / "class"), "--out", str(out), "--exercises", "01",
                       "--seed", "3", "--backend", "celery", "--broker", url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert ((out / "gradebook.csv").read_text()
                == (small_class / "local" / "gradebook.csv").read_text())
        data = json.loads((out / "results.json").read_text())
        assert data["backend"] == "celery"
    finally:
        for worker in workers:
            stop_group(worker, grace=5)
    logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in (1, 2))
    assert "Traceback" not in logs, logs


def test_celery_backend_without_workers_says_how_to_start_one(small_class, tmp_path):
    if not _answers(6379):
        pytest.skip("no redis on this machine")
    started = time.monotonic()
    result = grade(str(small_class / "class"), "--out", str(tmp_path / "out"), "--backend",
                   "celery", "--broker", "redis://127.0.0.1:6379/12", "--fresh",
                   env_extra={"GRADER_WORKER_WAIT": "2"})
    assert result.returncode == 1 and "celery -A grader.distributed worker" in result.stderr
    assert "Traceback" not in result.stderr and time.monotonic() - started < 40


def test_gradescope_mode_writes_gradescopes_results(small_class, tmp_path):
    results = tmp_path / "results" / "results.json"
    answer = subprocess.run(
        [sys.executable, "-m", "grader", "gradescope", "--submission",
         str(small_class / "class" / "ana"), "--results", str(results), "--exercises", "01"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr
    data = json.loads(results.read_text())
    assert data["score"] == 10 and data["tests"][0]["max_score"] == 10
    assert data["tests"][0]["status"] == "passed" and "✓" in data["tests"][0]["output"]
    assert Path(results).is_file()

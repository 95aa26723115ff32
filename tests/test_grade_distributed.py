"""`grade --backend celery`: two grading workers on a real Redis and on RabbitMQ give the
gradebook the local backend gives (in CI, a missing broker fails); and the Gradescope zip."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile

import pytest

from grader.exercises import REPO
from grader.processes import stop_group

from .services import NO_REDIS, real_redis
from .submissions import stage_into, zip_folder
from .test_grade import grade

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def _redis(db: int) -> str:
    """Database ``db`` of a Redis the tests may empty (tests/services.py), never the user's."""
    server = real_redis()
    if server is None:
        pytest.skip(NO_REDIS)
    url = f"{server}/{db}"
    try:
        import redis
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real Redis at {server}: {exc}")
        pytest.skip(f"no Redis answers at {server}")
    return url


def _rabbitmq() -> str:
    """RabbitMQ on its standard port: only in CI or when asked (TEST_RABBITMQ=1), since purging
    a queue named like ours on somebody's own RabbitMQ is not ours to do."""
    if not (os.environ.get("CI") or os.environ.get("TEST_RABBITMQ")):
        pytest.skip("RabbitMQ is tested in CI, or with TEST_RABBITMQ=1")
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real RabbitMQ on 127.0.0.1:5672: {exc}")
        pytest.skip("no RabbitMQ on this machine")
    return RABBITMQ


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


@pytest.mark.parametrize("name", ["redis", "rabbitmq"])
def test_two_celery_workers_give_the_local_gradebook(small_class, name, tmp_path):
    url = _redis(11) if name == "redis" else _rabbitmq()
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
    url = _redis(12)
    started = time.monotonic()
    result = grade(str(small_class / "class"), "--out", str(tmp_path / "out"), "--backend",
                   "celery", "--broker", url, "--fresh",
                   env_extra={"GRADER_WORKER_WAIT": "2"})
    assert result.returncode == 1 and "celery -A grader.distributed worker" in result.stderr
    assert "Traceback" not in result.stderr and time.monotonic() - started < 40


def test_the_gradescope_zip_grades_a_submission_where_gradescope_puts_it(tmp_path):
    zipped = tmp_path / "autograder.zip"
    made = subprocess.run([sys.executable, "-m", "grader", "gradescope", "--package", str(zipped),
                           "--exercises", "01"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "autograder"  # laid out as Gradescope lays out /autograder
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        archive.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "Makefile", "requirements.txt", "scripts/setup.sh",
            "grader/__main__.py", "exercises/01-celery-app/check.py", "solutions",
            "starter_project/manage.py"} <= {n if not n.startswith("solutions/") else "solutions"
                                             for n in names}
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    left_out = re.compile(r"(^|/)(\.venv|\.git|__pycache__|\.cache|tests)/|\.pyc$|db\.sqlite3$")
    assert not [n for n in names if left_out.search(n)]
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    (root / "source" / "run_autograder").replace(root / "run_autograder")  # as Gradescope does
    (root / "source" / ".venv").symlink_to(REPO / ".venv")  # what setup.sh's `make setup` makes
    stage_into(3, root / "submission")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_", "REDIS_"))}
    answer = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True,
                            text=True, timeout=180, env=env)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 10 and len(data["tests"]) == 1
    test = data["tests"][0]
    assert {"name", "score", "max_score", "output"} <= set(test)
    assert test["score"] == test["max_score"] == 10 and "✓" in test["output"]

"""How long a visitor waits for POST /feedback/, before and after exercise 02.

Each stage runs for real: an embedded broker in this process, a migrated SQLite file,
``manage.py runserver`` and, from exercise 01 on, a solo worker, all as subprocesses. The email
"takes" FEEDBACK_EMAIL_DELAY = 2 s. On stage 02 the worker is made busy with one email before
the measured posts, so the figures show the view's own time while emails pile up behind it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import requests

from grader.harness.broker import EmbeddedRedis
from grader.stage import write_stage

from . import PYTHON, BenchError, child_env, free_port, run_timed, start, stop, tail

EMAIL_DELAY = 2.0  # seconds each feedback email sleeps (FEEDBACK_EMAIL_DELAY)
READY_DEADLINE = 20.0  # seconds for the server (or the worker) to be ready
POST_TIMEOUT = 30.0  # seconds for one POST: far above the 2 s an email takes in the view
MIGRATE_TIMEOUT = 60.0
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class FeedbackTimes:
    stage: int
    latencies: list[float]  # seconds per measured POST
    waiting: int | None  # emails still queued after the posts (None: no worker at this stage)


def _form_token(session: requests.Session, url: str, processes, logs) -> str:
    """GET the form until the server answers; return its CSRF token (the cookie is kept)."""
    deadline = time.monotonic() + READY_DEADLINE
    while True:
        for process, log in zip(processes, logs):
            if process.poll() is not None:
                raise BenchError(f"{log.stem} stopped before the server was ready (exit status "
                                 f"{process.returncode}):\n{tail(log)}")
        try:
            response = session.get(url, timeout=2)
            if response.status_code == 200 and (match := _TOKEN.search(response.text)):
                return match[1]
            raise BenchError(f"GET {url} answered {response.status_code} without a CSRF token.")
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise BenchError(f"The server did not answer {url} within {READY_DEADLINE:g} s:"
                                 f"\n{tail(logs[0])}") from None
            time.sleep(0.1)


def _post(session: requests.Session, url: str, token: str, n: int) -> float:
    """POST one valid feedback; return the seconds until the response (not the redirect)."""
    data = {"csrfmiddlewaretoken": token, "email": f"bench{n}@example.com",
            "message": f"Bench post {n}: lovely gig."}
    began = time.perf_counter()
    # A new connection for each POST, as a browser's first request: on a kept-alive connection
    # runserver writes each response in two small sends, and Nagle plus the client's delayed ACK
    # add ~40 ms to every request (measured): the dev server's time, not the view's. (Sending
    # "Connection: close" instead made runserver drop about one connection in a hundred.)
    # allow_redirects=False: the thanks page is another request, not the one we measure.
    with requests.Session() as fresh:
        fresh.cookies.update(session.cookies)
        response = fresh.post(url, data=data, timeout=POST_TIMEOUT, allow_redirects=False)
    seconds = time.perf_counter() - began
    if response.status_code != 302:
        raise BenchError(f"POST {url} answered {response.status_code}, not the redirect a "
                         "valid feedback gets.")
    return seconds


def _wait_taken(queue: redis.Redis) -> None:
    """Wait until the worker has taken every queued message: then it is up, and busy."""
    deadline = time.monotonic() + READY_DEADLINE
    while queue.llen("celery"):
        if time.monotonic() > deadline:
            raise BenchError(f"The worker took no message within {READY_DEADLINE:g} s.")
        time.sleep(0.05)


def measure(stage: int, posts: int, workdir: Path) -> FeedbackTimes:
    """Time ``posts`` valid POSTs to /feedback/ on a fresh copy of ``stage``."""
    project = workdir / f"feedback-stage-{stage:02d}"
    write_stage(stage, project)
    has_worker = (project / "config" / "celery.py").is_file()
    processes, logs = [], []
    database = (workdir / f"db-{stage:02d}.sqlite3").as_posix()
    with EmbeddedRedis() as broker:
        env = child_env(REDIS_URL=broker.url(0), FEEDBACK_EMAIL_DELAY=f"{EMAIL_DELAY:g}",
                        DATABASE_URL=f"sqlite:///{database}",
                        EMAIL_URL="dummymail://")  # the emails themselves are not measured
        migrate_log = workdir / f"migrate-{stage:02d}.log"
        _, status = run_timed([PYTHON, "manage.py", "migrate", "--noinput"], project, env,
                              migrate_log, MIGRATE_TIMEOUT)
        if status != 0:
            raise BenchError(f"migrate failed on stage {stage:02d}:\n{tail(migrate_log)}")
        port = free_port()
        queue = redis.Redis.from_url(broker.url(0), socket_timeout=5)
        try:
            logs.append(workdir / f"web-{stage:02d}.log")
            processes.append(start([PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}",
                                    "--noreload"], project, env, logs[-1]))
            if has_worker:
                logs.append(workdir / f"worker-{stage:02d}.log")
                processes.append(start([PYTHON, "-m", "celery", "-A", "config", "worker",
                                        "-P", "solo", "-l", "warning"], project, env, logs[-1]))
            session = requests.Session()
            url = f"http://127.0.0.1:{port}/feedback/"
            token = _form_token(session, url, processes, logs)
            if has_worker:
                # Not measured: it opens the web's broker connection and occupies the worker.
                _post(session, url, token, 0)
                _wait_taken(queue)
            try:
                latencies = [_post(session, url, token, n) for n in range(1, posts + 1)]
            except requests.RequestException as exc:
                raise BenchError(f"A POST to {url} failed ({exc}). The server's log ends:\n"
                                 f"{tail(logs[0])}") from None
            waiting = queue.llen("celery") if has_worker else None
        finally:
            queue.close()
            for process in processes:
                stop(process)
    return FeedbackTimes(stage, latencies, waiting)

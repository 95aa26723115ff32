"""`make run` and `make flower` as a student meets them: everything starts, Ctrl-C stops it all."""

import base64
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from grader.exercises import REPO

from .services import real_redis

ENV = {k: v for k, v in os.environ.items()
       if k not in ("REDIS_URL", "FLOWER_BASIC_AUTH", "FLOWER_PORT", "PORT", "NO_COLOR")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def running_in(project: Path) -> list[str]:
    """Command lines of processes whose current folder is ``project``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if Path(os.readlink(proc / "cwd")) == project.resolve():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def status(port: int, login: str | None = None) -> int | None:
    headers = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()} if login else {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/", headers=headers)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def test_make_run_starts_everything_and_ctrl_c_stops_it_all(stage_copy, tmp_path):
    project = stage_copy(8)
    web, flower = free_port(), free_port()
    log = tmp_path / "run.log"
    env = dict(ENV, PORT=str(web), FLOWER_PORT=str(flower), NO_COLOR="1")
    with log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "grader", "run", "--project", str(project)],
                               cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                "ready." in log.read_text() and status(flower) == 401 and status(web) == 200):
            assert run.poll() is None, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        password = text.split("password ", 1)[1].split(" ", 1)[0]
        assert status(flower) == 401 and status(flower, f"encore:{password}") == 200, text
        assert "beat  │ Sends remind-inactive-artists and weekly-digest when due" in text, text
        assert "schedule file: .cache/beat/" in text and not list(project.glob("celerybeat*"))
        os.kill(run.pid, signal.SIGINT)  # what Ctrl-C does
        assert run.wait(30) == 0, log.read_text()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(5)
    assert log.read_text().rstrip().endswith("Stopped."), log.read_text()
    assert running_in(project) == []


def test_make_flower_explains_a_taken_port_and_a_missing_broker(stage_copy):
    project = stage_copy(8)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "grader", "flower", "--project", str(project)], cwd=REPO,
            env=dict(ENV, FLOWER_PORT=str(port),
                     REDIS_URL=f"{real_redis() or 'redis://127.0.0.1:9'}/9"),
            capture_output=True, text=True, timeout=30)
    if "does not answer" not in result.stderr:  # no Redis here: the port is checked after it
        assert result.returncode == 1 and f"Port {port} is taken" in result.stderr, result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "grader", "flower", "--project", str(project)], cwd=REPO,
        env=dict(ENV, REDIS_URL="redis://127.0.0.1:9/0"), capture_output=True, text=True,
        timeout=30)
    assert result.returncode == 1 and "does not answer" in result.stderr, result.stderr
    assert "Flower watches the broker your worker uses" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr

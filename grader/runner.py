"""Running one checker on one project, in a process of its own, under a hard time limit.

One checker per process: Celery keeps one app and one worker state per process, and a worker
that hangs can only be stopped by ending its process. Results come back line by line over a
pipe, so a run that is killed still reports every check it finished.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .exercises import REPO, Exercise
from .processes import stop_group

__all__ = ["CheckRun", "Pending", "RecordReader", "run_checker", "start_checker", "finish_checker",
           "collect", "conclude", "pytest_arguments",
           "run_variables", "run_key", "DEFAULT_LIMIT", "LOAD_LIMIT", "CHECK_LIMIT"]

DEFAULT_LIMIT = 90.0  # seconds for a whole checker run
LOAD_LIMIT = 20.0  # seconds for Django to import the project and migrate
CHECK_LIMIT = 20.0  # seconds for one check
SET_UP_LINES = ("loads", "broker")  # lines about the run's set-up, not checks of the exercise
_STACK_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')


@dataclass
class CheckRun:
    exercise: Exercise
    project: Path
    seed: int
    records: list[dict] = field(default_factory=list)
    broker: str = ""
    duration: float = 0.0
    outcome: str = "completed"  # completed, timed out, crashed
    problem: str = ""  # what went wrong with the run itself, in plain words
    log: str = ""
    # What the parent saw of the run's integrity (see RecordReader and grader/grade/verdict.py):
    # records that were not the harness's own, and the tripwires the run set off.
    forged: list[str] = field(default_factory=list)
    tripwires: list[dict] = field(default_factory=list)
    witness: dict = field(default_factory=dict)

    @property
    def checks(self) -> list[dict]:
        return [r for r in self.records if r.get("event") == "check"]

    @property
    def passed(self) -> bool:
        checks = self.checks
        real = [c for c in checks if c["id"] not in SET_UP_LINES]
        return (self.outcome == "completed" and bool(real)
                and all(c["status"] == "passed" for c in checks))

    def count(self, status: str) -> int:
        """How many checks have ``status``. A set-up line that went well is not a check, and a
        guard that passed (``@guard``: it passed before the exercise too) earns nothing."""
        return sum(1 for c in self.checks if c["status"] == status
                   and not (status == "passed" and (c["id"] in SET_UP_LINES or c.get("guard"))))


def _child_env(run_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GRADER_", "CELERY_", "DJANGO_"))}
    env.update(run_env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only our plugin: fast, and no Docker fixtures
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _where_it_hung(stack_file: Path, project: Path) -> str:
    """The student's frames in the stack dump faulthandler wrote when the deadline hit."""
    if not stack_file.is_file():
        return ""
    root = str(project.resolve())
    lines = []
    for match in _STACK_LINE.finditer(stack_file.read_text(errors="replace")):
        if match["file"].startswith(root):
            rel = os.path.relpath(match["file"], root)
            lines.append(f"  {rel}, line {match['line']}, in {match['func']}")
    return "\n".join(dict.fromkeys(lines[:6]))


PYTEST_OPTIONS = ["-p", "grader.harness.plugin", "-p", "no:cacheprovider", "-p", "no:doctest",
                  "-p", "no:junitxml", "-p", "no:pastebin", "-p", "no:legacypath",
                  "--assert=plain", "-q", "--no-header", "-o", "addopts=",
                  "-o", "console_output_style=classic", "--rootdir", str(REPO)]


def pytest_arguments(exercise: Exercise) -> list[str]:
    """pytest's arguments for one checker run (after ``python -m pytest``)."""
    return [str(exercise.checker), *PYTEST_OPTIONS]


def run_variables(project: Path, *, broker: str | None, seed: int, results_fd: int,
                  stack_file: Path, scratch: Path, limit: float, load_limit: float,
                  check_limit: float, key_fd: int | None = None,
                  tripwire_fd: int | None = None) -> dict[str, str]:
    """The GRADER_* variables the harness plugin reads (it removes the channel's before the
    project loads)."""
    channel = {"GRADER_KEY_FD": key_fd, "GRADER_TRIPWIRE_FD": tripwire_fd}
    return {
        **{name: str(fd) for name, fd in channel.items() if fd is not None},
        "GRADER_PROJECT": str(Path(project).resolve()), "GRADER_BROKER": broker or "",
        "GRADER_SEED": str(seed), "GRADER_RESULTS_FD": str(results_fd),
        "GRADER_STACK_FILE": str(stack_file), "GRADER_LOAD_LIMIT": str(load_limit),
        "GRADER_SCRATCH": str(scratch),
        "GRADER_CHECK_LIMIT": str(check_limit), "GRADER_LIMIT": str(limit),
    }


class Pending:
    """A checker process started by ``start_checker``: running, or (``warm``) waiting for go."""

    def __init__(self, run: CheckRun, tmp, process, read_fd: int, key: bytes, limit: float,
                 load_limit: float):
        self.run, self.tmp, self.process = run, tmp, process
        self.read_fd, self.key, self.limit, self.load_limit = read_fd, key, limit, load_limit
        self.started = time.monotonic()

    def go(self) -> None:
        """Let a warm process start the checks (a cold one started at once)."""
        if self.process.stdin:
            self.started = time.monotonic()
            try:
                self.process.stdin.write(b"go\n")
                self.process.stdin.close()
            except OSError:
                pass  # it died while waiting: finish() says so

    def cancel(self) -> None:
        """Stop it without running anything (a warm process nobody needed)."""
        os.close(self.read_fd)
        stop_group(self.process)
        self.tmp.cleanup()


def start_checker(exercise: Exercise, project: Path, *, broker: str | None = None,
                  seed: int, limit: float = DEFAULT_LIMIT, load_limit: float = LOAD_LIMIT,
                  check_limit: float = CHECK_LIMIT, extra_env: dict[str, str] | None = None,
                  warm: bool = False) -> Pending:
    """Start ``exercise``'s checker on ``project`` in a process of its own.

    ``warm``: the process imports what every run needs, then waits for ``Pending.go()``
    (grader/warm.py): `make watch` keeps one ready, so a re-check skips those imports. The
    student's project is loaded only after go, so it is read as it is then.
    """
    run = CheckRun(exercise, Path(project), seed)
    tmp = tempfile.TemporaryDirectory(prefix="encore-run-")
    stack_file, log_file = Path(tmp.name) / "stack.txt", Path(tmp.name) / "output.txt"
    scratch = Path(tmp.name) / "scratch"  # the checked project's working folder and database
    scratch.mkdir()
    read_fd, write_fd = os.pipe()
    key, key_fd = run_key()
    env = _child_env({
        **run_variables(project, broker=broker, seed=seed, results_fd=write_fd,
                        stack_file=stack_file, scratch=scratch, limit=limit,
                        load_limit=load_limit, check_limit=check_limit, key_fd=key_fd),
        **(extra_env or {}),
    })
    module = "grader.warm" if warm else "pytest"
    command = [sys.executable, "-m", module, *pytest_arguments(exercise)]
    with open(log_file, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT,
                                   stdin=subprocess.PIPE if warm else subprocess.DEVNULL,
                                   pass_fds=(write_fd, key_fd), start_new_session=True)
    os.close(write_fd)
    os.close(key_fd)
    return Pending(run, tmp, process, read_fd, key, limit, load_limit)


def finish_checker(pending: Pending,
                   on_record: Callable[[dict], None] | None = None) -> CheckRun:
    """Collect what a started checker reports, until it ends or its hard limit passes."""
    run, process, limit = pending.run, pending.process, pending.limit
    pending.go()
    started = pending.started
    stack_file = Path(pending.tmp.name) / "stack.txt"
    try:
        collect(run, pending.read_fd, started + limit, on_record, pending.key)
        try:
            process.wait(timeout=max(0.1, started + limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            run.outcome = "timed out"
    finally:
        os.close(pending.read_fd)
        stop_group(process)  # the checker and anything it started
    run.duration = time.monotonic() - started
    run.log = (Path(pending.tmp.name) / "output.txt").read_text(errors="replace")[-4000:]
    conclude(run, process.returncode, stack_file, limit, pending.load_limit)
    pending.tmp.cleanup()
    return run


def run_checker(exercise: Exercise, project: Path, *, broker: str | None = None,
                seed: int, limit: float = DEFAULT_LIMIT, load_limit: float = LOAD_LIMIT,
                check_limit: float = CHECK_LIMIT,
                on_record: Callable[[dict], None] | None = None,
                extra_env: dict[str, str] | None = None) -> CheckRun:
    """Run ``exercise``'s checker against ``project`` and collect what it reports."""
    return finish_checker(start_checker(exercise, project, broker=broker, seed=seed,
                                        limit=limit, load_limit=load_limit,
                                        check_limit=check_limit, extra_env=extra_env),
                          on_record)


def conclude(run: CheckRun, returncode: int | None, stack_file: Path, limit: float,
             load_limit: float) -> None:
    """Name what happened to a run that did not end normally, once its process is gone."""
    ended = any(r.get("event") == "end" for r in run.records)
    if run.outcome == "completed" and not ended:
        # faulthandler ends the process itself when a deadline inside it passes.
        hung = stack_file.is_file() and stack_file.stat().st_size > 0
        run.outcome = "timed out" if hung else "crashed"
    if run.outcome == "timed out":
        run.problem = _timeout_problem(run, stack_file, limit, load_limit)
    elif run.outcome == "crashed":
        run.problem = ("The checker's process stopped before it finished (exit status "
                       f"{returncode}). Its last output is below.")


def run_key() -> tuple[bytes, int]:
    """A fresh key for one run, and the read end of a pipe that holds it (for the harness)."""
    key = secrets.token_bytes(32)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, key)
    os.close(write_fd)
    return key, read_fd


class RecordReader:
    """Splits what comes over the results pipe into records; anything not JSON is ignored.

    With the run's ``key``, a record counts only when it carries the harness's HMAC and the
    next sequence number; anything else is kept out of the results and noted in ``run.forged``.
    """

    def __init__(self, run: CheckRun, on_record: Callable[[dict], None] | None = None,
                 key: bytes | None = None):
        self.run, self.on_record, self._buffer = run, on_record, b""
        self.key, self.seq = key, 0

    def _verified(self, line: bytes) -> bytes | None:
        mac, _, text = line.partition(b" ")
        expected = hmac.new(self.key, text, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(mac, expected):
            if line.strip() and len(self.run.forged) < 5:
                self.run.forged.append("A line on the results channel was not the checker's "
                                       f"own (no valid signature): {_shown(line)}")
            return None
        return text

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if self.key is not None:
                line = self._verified(line)
                if line is None:
                    continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # not ours: the pipe carries only JSON lines
            if not isinstance(record, dict):
                continue
            if self.key is not None:
                got = record.pop("seq", None)
                if got != self.seq:
                    self.run.forged.append("The checker's records came out of order (a signed "
                                           "record was replayed or dropped).")
                self.seq = (got if isinstance(got, int) else self.seq) + 1
            if record.get("event") == "broker":
                self.run.broker = record.get("label", "")
            self.run.records.append(record)
            if self.on_record:
                self.on_record(record)


def _shown(line: bytes) -> str:
    text = line.decode(errors="replace")
    return text if len(text) < 160 else text[:160] + "..."


def collect(run: CheckRun, fd: int, deadline: float, on_record=None,
            key: bytes | None = None) -> None:
    """Read records from ``fd`` until it closes or ``deadline`` passes (then: timed out)."""
    reader = RecordReader(run, on_record, key)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            run.outcome = "timed out"
            return
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        reader.feed(chunk)


def _timeout_problem(run: CheckRun, stack_file: Path, limit: float, load_limit: float) -> str:
    phases = [r["phase"] for r in run.records if r.get("event") == "phase"]
    phase = phases[-1] if phases else "starting"
    where = _where_it_hung(stack_file, run.project)
    if phase == "loading your project":
        text = (f"Your project did not finish loading within {load_limit:g} s, so it was "
                "stopped. Code that runs at import time (in settings.py, models.py, apps.py, "
                "urls.py...) must not loop or wait.")
    else:
        text = f"The checker was stopped after {limit:g} s, while {phase}."
    if where:
        text += f"\nYour code was running here:\n{where}"
    return text

"""A fork server for checker runs: the heavy imports once, then one fork per run.

Starting Python and importing pytest, Django, Celery, redis and fakeredis costs ~0.5 s of CPU
per run. The zygote (``python -m grader.grade.zygote``) imports them once, starts no thread and
does not set Django up, then for each request forks a *keeper* that copies the project, forks
the fenced checker process (sandbox.py) and watches it: records over a pipe of their own, the
output into a capped log, the hard time limit, and the clean-up of everything the run started.

The zygote's environment is an allow-list and it holds nothing but run specs: a fork shares
its memory with student code.

Protocol: the parent writes one JSON spec per line on stdin; the zygote answers one JSON line
per finished run on stdout (``{"id": ..., "status": ...}``); the keeper has written the run's
result to ``spec["result_file"]`` by then.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..exercises import REPO, find_exercise
from ..processes import stop_group
from ..warm import preload
from ..runner import CheckRun, RecordReader, conclude, pytest_arguments, run_key, run_variables
from . import runs, sandbox
from .witness import Witness, hand_over

__all__ = ["Zygote", "ZygoteError"]

TAIL = 8000  # characters of output kept for the report
FLOOD_FACTOR = 16  # past this many times the log cap, a run is stopped
# What a run may store in the broker the keeper serves for it, beyond what the keeper used when
# the run started (an honest run stores a few MB). Without a cap, a project that SETs 100 MB
# strings (or one SETRANGE at offset 500 MB) grew the keeper past 1.5 GB in 5 s; six runs at
# once could fill the machine. Past it, a command that needs more memory gets an error reply.
BROKER_MB = 512
_LEAVE_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", ".env")


class ZygoteError(Exception):
    pass


class _Child:
    """Enough of subprocess.Popen for stop_group(), for a process we forked ourselves."""

    def __init__(self, pid: int):
        self.pid, self.returncode, self.cpu = pid, None, 0.0

    def poll(self):
        if self.returncode is None:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self.cpu = usage.ru_utime + usage.ru_stime  # with its reaped descendants
        return self.returncode

    def wait(self, timeout: float | None = None):
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return self.returncode


# -- the keeper: one run -----------------------------------------------------------------------

def supervise(spec: dict, fences: sandbox.Fences) -> dict:
    exercise = find_exercise(spec["exercise"])
    limits = spec["limits"]
    work = Path(spec["workdir"])
    project, scratch = work / "project", work / "scratch"
    shutil.copytree(spec["project"], project, symlinks=True, ignore=_LEAVE_OUT)
    scratch.mkdir()
    Path(spec["db_cache"]).mkdir(parents=True, exist_ok=True)
    stack_file = work / "stack.txt"
    run = CheckRun(exercise, project, spec["seed"])
    notes: list[str] = []
    results_r, results_w = os.pipe()
    trip_r, trip_w = os.pipe()
    out_r, out_w = os.pipe()
    key, key_fd = run_key()
    # The broker runs here, in the keeper, unless the job names a broker of its own.
    ours, theirs = socket.socketpair() if not spec["broker"] else (None, None)
    cgroup = (sandbox.PidsCgroup(fences.cgroup_root, f"run-{os.getpid()}", limits["processes"])
              if fences.processes == "cgroup" else None)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        if ours:
            ours.close()
        channel = {"results": results_w, "key": key_fd, "tripwire": trip_w,
                   "broker": theirs.detach() if theirs else None}
        _fenced_child(spec, fences, project, scratch, stack_file, channel, out_w, cgroup)
    for fd in (results_w, trip_w, out_w, key_fd):
        os.close(fd)
    base = _cap_memory(BROKER_MB) if ours else 0
    witness = None
    if ours:
        theirs.close()
        witness = Witness(ours)
    child = _Child(pid)
    output = _Output(work / "output.txt", limits["output_bytes"])
    wires = _Tripwires(run)
    try:
        _watch(run, child, results_r, out_r, output, started + limits["limit"], key,
               trip_r, wires)
    finally:
        stop_group(child, grace=0.5)
        if cgroup:
            cgroup.remove()
        os.close(results_r)
        os.close(out_r)
        os.close(trip_r)
        if witness:
            run.witness = witness.stop()
    ended = [r for r in run.records if r.get("event") == "end"]
    if ended and ended[-1].get("tripwires") and not wires.alive:
        run.forged.append("The run's tripwire channel was replaced by something else.")
    if witness and run.broker:
        run.broker = "embedded fakeredis"  # served by the keeper; the same broker to the run
    run.duration = time.monotonic() - started
    run.log = output.tail()
    if output.flooded:
        run.outcome = "stopped"
        run.problem = (f"Your project wrote more than {output.cap * FLOOD_FACTOR // 2**20} MB "
                       "of output (print or logging in a loop?), so the run was stopped. "
                       "Its last lines are in results.json (output_tail).")
    else:
        conclude(run, child.returncode, stack_file, limits["limit"], limits["load_limit"])
    if output.dropped and not output.flooded:
        notes.append(f"Output past {output.cap // 1024} KB was left out of the log "
                     f"({output.dropped} bytes).")
    own = resource.getrusage(resource.RUSAGE_SELF)  # the keeper: copying, watching, broker
    if base and own.ru_maxrss * 1024 > base + BROKER_MB * 2**20 * 0.8:
        notes.append(f"The run stored nearly {BROKER_MB} MB in the broker, the most a run may: "
                     "past that, the broker answered its commands with an error.")
    words = json.dumps(run.records) + run.log
    if "MemoryError" in words or "Cannot allocate memory" in words:
        notes.append(f"The run reached its memory limit ({limits['memory_mb']} MB).")
    if "Resource temporarily unavailable" in words or "BlockingIOError" in words:
        notes.append(f"The run reached its limit of {limits['processes']} processes and threads.")
    return {**runs.as_data(run, notes), "signed": True,
            "cpu": round(child.cpu + own.ru_utime + own.ru_stime, 3)}


def _cap_memory(extra_mb: int) -> int:
    """Cap this keeper's data memory at what it uses now plus ``extra_mb``; returns what it uses
    now (bytes), or 0 when that cannot be told here."""
    try:
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status
                        if line.startswith("VmData:"))
        resource.setrlimit(resource.RLIMIT_DATA, (used + extra_mb * 2**20,) * 2)
    except (OSError, ValueError, StopIteration):
        return 0
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status
                    if line.startswith("VmRSS:"))


def _fenced_child(spec, fences, project, scratch, stack_file, channel, out_w, cgroup):
    """The checker process (never returns): fences up, then pytest with our plugin."""
    code = 70
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        keep = sorted(fd for fd in channel.values() if fd is not None)
        for low, high in zip([2] + keep, keep + [4096]):
            os.closerange(low + 1, high)
        if cgroup:
            cgroup.join()
        if fences.namespaces:
            own = [str(Path(spec["workdir"])), spec["db_cache"]]
            sandbox.enter_namespaces(own, spec["read_only"])
            init = os.fork()  # the first process of the new PID namespace
            if init:
                _, status = os.waitpid(init, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            sandbox.die_with_parent()
            sandbox.own_proc()
        limits = spec["limits"]
        sandbox.apply_limits(limits["memory_mb"], limits["processes"],
                             fences.processes == "rlimit")
        broker = spec["broker"]
        if channel["broker"] is not None:  # inside the run's network namespace
            broker = hand_over(socket.socket(fileno=channel["broker"]))
        variables = run_variables(project, broker=broker, seed=spec["seed"],
                                  results_fd=channel["results"], stack_file=stack_file,
                                  scratch=scratch, limit=limits["limit"],
                                  load_limit=limits["load_limit"],
                                  check_limit=limits["check_limit"], key_fd=channel["key"],
                                  tripwire_fd=channel["tripwire"])
        variables["GRADER_DB_CACHE"] = spec["db_cache"]
        env = sandbox.clean_env(scratch, variables)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(scratch)
        sys.dont_write_bytecode = True
        sys.argv = ["pytest"]
        import pytest
        arguments = pytest_arguments(find_exercise(spec["exercise"]))
        # A warm-up only loads and migrates: collecting is enough for that.
        code = int(pytest.main(arguments + (["--collect-only"] if spec.get("warm_up") else [])))
    except BaseException:  # noqa: BLE001 - a child of a fork must never return
        import traceback
        traceback.print_exc()
    finally:
        os._exit(code)


class _Output:
    """The run's stdout and stderr: the first ``cap`` bytes to a file, and a short tail."""

    def __init__(self, file: Path, cap: int):
        self.file, self.cap = open(file, "wb"), cap
        self.written = self.dropped = 0
        self._tail = b""

    def add(self, chunk: bytes) -> None:
        room = self.cap - self.written
        if room > 0:
            self.file.write(chunk[:room])
            self.written += min(room, len(chunk))
        self.dropped += max(0, len(chunk) - max(room, 0))
        self._tail = (self._tail + chunk)[-TAIL:]

    @property
    def flooded(self) -> bool:
        return self.written + self.dropped > self.cap * FLOOD_FACTOR

    def tail(self) -> str:
        self.file.close()
        return self._tail.decode(errors="replace")


class _Tripwires:
    """What comes over the tripwire pipe: reports, kept on the run as they arrive."""

    def __init__(self, run: CheckRun):
        self.run, self._buffer, self.alive = run, b"", False

    def feed(self, chunk: bytes) -> None:
        self._buffer = (self._buffer + chunk)[-200_000:]
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if not isinstance(report, dict):
                continue
            if report.get("event") == "alive":
                self.alive = True
            elif len(self.run.tripwires) >= 50:
                continue
            elif report.get("event") == "tripwire":
                self.run.tripwires.append({k: str(report.get(k, ""))[:300]
                                           for k in ("kind", "what", "where")})
            else:
                self.run.tripwires.append({"kind": "channel", "what": "something else wrote "
                                           f"on the tripwire channel: {line[:120]!r}"})


def _watch(run: CheckRun, child: _Child, results: int, out: int, output: _Output,
           deadline: float, key: bytes, tripwire: int, wires: _Tripwires) -> None:
    """Read records, tripwires and output until the run ends or ``deadline`` passes.

    Like runner.collect, but for three pipes at once: the output must be read while the run
    goes on, or the run blocks once the pipe is full.
    """
    reader = RecordReader(run, key=key)
    open_fds, until = {results, out, tripwire}, deadline
    while open_fds and not output.flooded:
        left = until - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(list(open_fds), [], [], left)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                if fd == results:  # the checker has reported; its output may still be draining
                    until = min(deadline, time.monotonic() + 2)
            elif fd == results:
                reader.feed(chunk)
            elif fd == tripwire:
                wires.feed(chunk)
            else:
                output.add(chunk)
    if results in open_fds and not output.flooded:
        run.outcome = "timed out"
        return
    try:
        child.wait(max(0.1, min(until, time.monotonic() + 2) - time.monotonic()))
    except subprocess.TimeoutExpired:
        if time.monotonic() >= deadline:
            run.outcome = "timed out"


# -- the server ---------------------------------------------------------------------------------

def _keep(spec: dict, fences: sandbox.Fences) -> None:
    """The keeper process (never returns)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that `finally` stops the run
    try:
        result = supervise(spec, fences)
    except BaseException as exc:  # noqa: BLE001 - reported as the run's result
        result = runs.failed_run(spec["exercise"], spec["seed"],
                                 f"The grader could not run this checker: {exc}")
    try:
        partial = Path(spec["result_file"] + ".tmp")
        partial.write_text(json.dumps(result))
        partial.replace(spec["result_file"])
    finally:
        os._exit(0)


def serve() -> None:
    preload()
    fences = sandbox.probe()
    out = sys.stdout
    out.write(json.dumps({"ready": True, "fences": fences.__dict__}) + "\n")
    out.flush()
    keepers: dict[int, str] = {}
    stdin, buffer, open_input = sys.stdin.fileno(), b"", True
    while open_input or keepers:
        if open_input:
            ready, _, _ = select.select([stdin], [], [], 0.02)
            if ready:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    open_input = False
                    for pid in keepers:
                        os.kill(pid, signal.SIGTERM)
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    spec = json.loads(line)
                    pid = os.fork()
                    if pid == 0:
                        _keep(spec, fences)
                    keepers[pid] = spec["id"]
        else:
            time.sleep(0.02)
        while keepers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            if pid in keepers:
                out.write(json.dumps({"id": keepers.pop(pid), "status": status}) + "\n")
                out.flush()
    if fences.cgroup_root:
        try:
            os.rmdir(fences.cgroup_root)
        except OSError:
            pass


class Zygote:
    """The parent's handle on a zygote: submit specs, collect finished run ids."""

    def __init__(self, start_timeout: float = 60.0):
        env = sandbox.clean_env(Path(os.environ.get("HOME", "/")), {"PYTHONPATH": str(REPO)})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.grade.zygote"], cwd=REPO, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self._buffer = b""
        lines = self.finished(start_timeout, want_ready=True)
        if not lines:
            self.close()
            raise ZygoteError("The grader's fork server did not start within "
                              f"{start_timeout:g} s.")
        self.fences = lines[0]["fences"]

    def submit(self, spec: dict) -> None:
        self.process.stdin.write((json.dumps(spec) + "\n").encode())
        self.process.stdin.flush()

    def finished(self, timeout: float, want_ready: bool = False) -> list[dict]:
        """Lines from the zygote within ``timeout`` seconds (none when nothing finished)."""
        fd = self.process.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return []
        chunk = os.read(fd, 65536)
        if not chunk:
            raise ZygoteError("The grader's fork server stopped unexpectedly.")
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        found = [json.loads(line) for line in lines if line.strip()]
        return [line for line in found if want_ready or "ready" not in line]

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        stop_group(self.process, grace=1)


if __name__ == "__main__":
    serve()

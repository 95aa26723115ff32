"""Grading on Celery workers: the grading command's side (:class:`CeleryBackend`) and the
worker's side (:func:`run_job`, called by the task in grader/distributed.py).

Each (submission, exercise) is one task message on the ``encore-grading`` queue. The message
carries the job and the project itself (a tar.gz, base64, a few dozen KB), so workers need no
shared folder and can run on other machines. A worker unpacks it with the same care as a
student's archive and runs it with the same LocalPool (zygote and fences) as the local backend.
"""

from __future__ import annotations

import atexit
import base64
import os
import tempfile
import time
from pathlib import Path

from . import runs
from .submissions import archive_project, unpack_project

__all__ = ["CeleryBackend", "RemoteError", "run_job"]

MAX_MESSAGE = 20 * 2**20  # bytes of project per message
# Seconds to wait for a first grading worker to answer.
WORKER_WAIT = float(os.environ.get("GRADER_WORKER_WAIT") or 15)


class RemoteError(Exception):
    pass


class CeleryBackend:
    """Sends every job at once; workers take them one by one; results come back as they end."""

    free = 10**9

    def __init__(self, broker: str, workroot: Path):
        from ..distributed import make_app, redact
        self.app, self.shown = make_app(broker), redact(broker)
        self.workroot = workroot
        self._pending: dict[str, object] = {}
        self._payloads: dict[Path, str] = {}
        self._last_progress = time.monotonic()
        self._stall = 0.0
        self.worker_notes: set[str] = set()
        self._wait_for_workers()

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + WORKER_WAIT
        while time.monotonic() < deadline:
            try:
                if self.app.control.ping(timeout=1.0):
                    return
            except Exception as exc:  # noqa: BLE001 - the broker itself does not answer
                raise RemoteError(f"The grading queue at {self.shown} does not answer ({exc}). "
                                  "Is that Redis or RabbitMQ running?") from None
        raise RemoteError(
            f"No grading worker answered on {self.shown} within {WORKER_WAIT:g} s. Start one "
            f"or more: GRADER_BROKER_URL='{self.shown}' celery -A grader.distributed worker "
            "-P solo (see docs/instructors.md).")

    @property
    def fences(self) -> dict:
        return {"notes": sorted(self.worker_notes)}

    def submit(self, job: dict, project: Path) -> None:
        if project not in self._payloads:
            data = archive_project(project)
            if len(data) > MAX_MESSAGE:
                raise RemoteError(f"The project in {project} is larger than "
                                  f"{MAX_MESSAGE // 2**20} MB packed: too large for a message.")
            self._payloads[project] = base64.b64encode(data).decode()
        self._stall = max(self._stall, job["limits"]["limit"] + 60)
        self._pending[job["id"]] = self.app.send_task(
            "encore.grade_run", args=[job, self._payloads[project]], queue="encore-grading")

    def wait(self, timeout: float) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        done = []
        while not done and time.monotonic() < deadline:
            for job_id, result in list(self._pending.items()):
                if result.ready():
                    del self._pending[job_id]
                    try:
                        answer = result.get(timeout=5, propagate=True)
                        self.worker_notes.update(answer.get("isolation_notes", []))
                        done.append((job_id, answer["result"]))
                    except Exception as exc:  # noqa: BLE001 - recorded as the run's result
                        exercise = job_id.rsplit(":", 1)[1]
                        done.append((job_id, runs.failed_run(
                            exercise, 0, f"The grading worker failed on this run: {exc}")))
            if not done:
                time.sleep(0.1)
        if done:
            self._last_progress = time.monotonic()
        return done

    def lost(self) -> list[str]:
        """Jobs given up on: nothing finished for longer than a run's limit plus a minute."""
        if time.monotonic() - self._last_progress < self._stall:
            return []
        gone = list(self._pending)
        for result in self._pending.values():
            result.revoke()
        self._pending.clear()
        return gone

    def close(self) -> None:
        self.app.close()


# -- the worker's side --------------------------------------------------------------------------

_state: dict = {}


def _pool():
    if "pool" not in _state:
        from .pool import LocalPool
        root = Path(tempfile.mkdtemp(prefix="encore-grade-worker-"))
        _state.update(pool=LocalPool(1, root), root=root)  # one job at a time per worker
        atexit.register(_state["pool"].close)
    return _state["pool"], _state["root"]


def run_job(job: dict, payload: str) -> dict:
    """Run one job on this worker; returns {"result": run data, "isolation_notes": [...]}."""
    pool, root = _pool()
    project = root / "projects" / job["content_hash"]
    try:
        if not project.is_dir():
            partial = root / "projects" / f"{job['content_hash']}.partial"
            unpack_project(base64.b64decode(payload), partial)
            partial.replace(project)
    except (ValueError, OSError) as exc:
        return {"result": runs.failed_run(job["exercise"], job["seed"], str(exc)),
                "isolation_notes": []}
    result = pool.run_one(job, project, timeout=job["limits"]["limit"] + 30)
    return {"result": result, "isolation_notes": pool.fences.get("notes", [])}

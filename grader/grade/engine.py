"""Grading a class: find and unpack submissions, plan jobs, run what the cache lacks, write out.

The backend (local or Celery) only runs jobs; everything else happens here, once, so both give
the same gradebook for the same inputs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..exercises import Exercise
from ..report import timing_failed
from . import results, runs
from .cache import ResultCache, run_key
from .progress import Progress
from .verdict import scan
from .submissions import Limits, find_submissions, materialize

__all__ = ["Options", "grade_class", "rerun_reason", "student_seed"]


@dataclass
class Options:
    submissions: Path
    out: Path
    exercises: list[Exercise]
    jobs: int = 2
    seed: int = 1
    fresh: bool = False
    roster: dict | None = None
    backend: str = "local"
    broker: str = ""
    limits: dict = field(default_factory=lambda: dict(runs.DEFAULT_LIMITS))
    unpack: Limits = field(default_factory=Limits)
    progress_stream: object = None


def student_seed(base: int, name: str) -> int:
    """The seed of one student's runs: the same for the same --seed and name, every time."""
    return int(hashlib.sha256(f"{base}:{name}".encode()).hexdigest()[:8], 16) % 99_999 + 1


def _backend(options: Options, workroot: Path):
    if options.backend == "celery":
        from .remote import CeleryBackend
        return CeleryBackend(options.broker, workroot)
    from .pool import LocalPool
    return LocalPool(options.jobs, workroot, protect=[options.out, options.submissions],
                     exercises=[e.number for e in options.exercises])


def grade_class(options: Options) -> list[results.Graded]:
    options.out.mkdir(parents=True, exist_ok=True)
    cache = ResultCache(options.out / ".cache", fresh=options.fresh)
    workroot = Path(tempfile.mkdtemp(prefix="encore-grade-", dir=_memory_folder()))
    try:
        class_ = _prepare(options, workroot)
        todo = []
        for graded in class_:
            sub = graded.submission
            for exercise in options.exercises if sub.gradable else []:
                job = {"id": f"{sub.key}:{exercise.number}", "exercise": exercise.number,
                       "seed": graded.seed, "limits": options.limits,
                       "content_hash": sub.content_hash}
                key = run_key(sub.content_hash, exercise.number, graded.seed, options.limits)
                hit = cache.get(key)
                if hit is not None:
                    graded.results[exercise.number] = hit
                    graded.cached.add(exercise.number)
                else:
                    todo.append((graded, job, key))
        progress = Progress(sum(len(options.exercises) for g in class_
                                if g.submission.gradable), options.progress_stream)
        for _ in range(sum(len(g.cached) for g in class_)):
            progress.advance(cached=True)
        if todo:
            backend = _backend(options, workroot)
            try:
                again = _run(backend, todo, cache, progress)
                if again:  # once, one at a time, so that nothing else competes for the CPU
                    _run(backend, again, cache, progress, alone=True)
                isolation = backend.fences
            finally:
                backend.close()
        else:
            isolation = {}
        meta = {"seed": options.seed, "backend": options.backend,
                "limits": options.limits, "isolation": isolation,
                "checker": "the instructor's copy (grader/, exercises/)"}
        results.write_all(options.out, class_, options.exercises, meta)
        return class_
    finally:
        shutil.rmtree(workroot, ignore_errors=True)


def _memory_folder() -> str | None:
    """Where runs work: in memory when the machine has a tmpfs for it (/dev/shm).

    Every run copies the project and a migrated database, and each commit of the checks'
    SQLite database waits for the disk (5-10 ms each, 90 in exercise 03's run on /tmp); in
    memory they do not. None: the usual temporary folder.
    """
    shm = Path("/dev/shm")
    try:
        if os.access(shm, os.W_OK | os.X_OK) and os.statvfs(shm).f_bavail * os.statvfs(
                shm).f_frsize > 2 * 2**30:
            return str(shm)
    except OSError:
        pass
    return None


def _prepare(options: Options, workroot: Path) -> list[results.Graded]:
    class_ = []
    for sub in find_submissions(options.submissions, options.roster):
        materialize(sub, workroot / "submissions" / sub.key, options.unpack)
        class_.append(results.Graded(sub, student_seed(options.seed, sub.name),
                                     scan=scan(sub.project) if sub.gradable else {}))
    return class_


def rerun_reason(result: dict) -> str:
    """Why a run is run again, alone: a check marked ``@timed`` failed in it ("" if none did).

    A timed check measures a duration ("answers in under 0.5 s"), which other runs sharing the
    machine can stretch. A run already re-run is never run a third time.
    """
    if result.get("rerun"):
        return ""
    checks = [r for r in result.get("records", []) if r.get("event") == "check"]
    failed = timing_failed(checks)
    if not failed:
        return ""
    titles = ", ".join(f'"{c["title"]}"' for c in failed)
    return (f"Re-run alone: the timing check{'s' if len(failed) > 1 else ''} {titles} failed "
            "while other runs shared the machine; this is the second run's result.")


def _run(backend, todo: list, cache: ResultCache, progress: Progress,
         alone: bool = False) -> list:
    """Run ``todo``; returns the jobs to run again alone (see :func:`rerun_reason`).

    ``alone``: one job at a time, each one's result kept, with why it was re-run.
    """
    waiting = list(todo)
    owners = {job["id"]: (graded, job, key) for graded, job, key in todo}
    again = []
    while waiting or owners:
        while waiting and backend.free > 0 and not (alone and len(owners) > len(waiting)):
            graded, job, _ = waiting.pop(0)
            backend.submit(job, graded.submission.project)
        for job_id, result in backend.wait(0.5):
            graded, job, key = owners.pop(job_id)
            if alone:
                result["rerun"] = rerun_reason(graded.results[job["exercise"]])
            graded.results[job["exercise"]] = result
            rerun = not alone and rerun_reason(result)
            progress.total += bool(rerun)
            progress.advance(trouble=result["outcome"] != "completed")
            if rerun:
                again.append((graded, job, key))
                continue  # cached once re-run
            if result["outcome"] != "crashed" or result["records"] or result["log"]:
                cache.put(key, result)  # not a run the grader itself lost
        if not waiting and owners and getattr(backend, "lost", None):
            for job_id in backend.lost():
                graded, job, key = owners.pop(job_id)
                graded.results[job["exercise"]] = runs.failed_run(
                    job["exercise"], job["seed"], "No grading worker finished this run in time.")
                progress.advance(trouble=True)
    return again

"""Running grading jobs on this machine: through the zygote, a few at a time.

A job is one (submission, exercise): ``{"id", "exercise", "seed", "limits", "content_hash"}``.
The local backend and every Celery grading worker run jobs with this same class.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

from ..exercises import REPO, all_exercises, find_exercise
from ..stage import StageError, write_stage
from . import runs
from .verdict import judge, witnessed
from .zygote import Zygote

__all__ = ["LocalPool"]

_APPS = re.compile(r"INSTALLED_APPS\s*=\s*[\[(].*?[\])]", re.S)

# A checker run spends most of its time waiting (for the worker thread, the 1 s email, the
# index rebuild): 0.35-0.4 s of CPU in 1-4 s of wall time, so runs beside each other keep the
# cores busy. A timing check ("answers in under 0.5 s") that the sharing makes fail is run
# again alone (engine.rerun_reason), so grades do not depend on it; but a re-run costs a run.
# Measured on a 2-core machine shared with other test suites (16 submissions x 01-08,
# --jobs 2): three runs per core, load 5-11: 45-49 s, no re-run; five per core at load 9-15:
# 86 s and 9 re-runs (the views' 0.5 s). So: OVERLAP runs per core always, and up to
# OVERLAP_IDLE while the cores are seen idle (CPUMeter), one more at a time. 100 x 01-08 with
# other suites starting mid-way (load 3 -> 18): 355 s, 8 re-runs; at load 3.5-7: 160 s, no
# re-run, CPU 0.32 s a run (0.34 s with the grader, fork server and warm-up).
OVERLAP = 3
OVERLAP_IDLE = 5


class CPUMeter:
    """How idle this machine's CPUs were since the last look (/proc/stat; Linux only)."""

    def __init__(self):
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle, iowait

    def idle(self) -> float | None:
        """The idle share since the last call (0 to 1), None when it cannot be told."""
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[0] <= last[0]:
            return None
        return (now[1] - last[1]) / (now[0] - last[0])


class LocalPool:
    """Runs for ``jobs`` cores: OVERLAP × ``jobs`` at once, up to OVERLAP_IDLE × ``jobs`` while
    the CPUs are idle. ``protect``: extra folders kept read-only for runs."""

    def __init__(self, jobs: int, workroot: Path, protect: list[Path] = (),
                 exercises: list[str] | None = None):
        self.cores, self.workroot = max(1, jobs), Path(workroot)
        self.jobs = self.cores * OVERLAP  # runs at once now (see _pace)
        self._meter, self._looked = CPUMeter(), time.monotonic()
        self.exercises = exercises  # those to take references for (None: every one)
        self.references: dict[str, dict[str, int]] = {}
        self._pending: set[str] = set()  # exercises whose reference run is still going
        self._held: list[tuple[dict, dict]] = []  # results waiting for their reference
        self.protect = [str(Path(p).resolve()) for p in protect]
        self._zygote: Zygote | None = None
        self._running: dict[str, dict] = {}
        self._pristine: list[Path] | None = None

    @property
    def fences(self) -> dict:
        return self._start().fences

    def _start(self) -> Zygote:
        if self._zygote is None:
            self._zygote = Zygote()
        return self._zygote

    @property
    def free(self) -> int:
        self._pace()
        return self.jobs - len(self._running)

    def _pace(self) -> None:
        """One run more when the CPUs were more than 30 % idle over the last second and every
        allowed run is going; back to OVERLAP per core as soon as they are busy. Runs that wait leave the cores idle; runs that compete make timing checks fail."""
        if time.monotonic() - self._looked < 1.0:
            return
        self._looked = time.monotonic()
        idle = self._meter.idle()
        if idle is None:
            return
        if idle > 0.3 and len(self._running) >= self.jobs:
            self.jobs = min(self.jobs + 1, self.cores * OVERLAP_IDLE)
        elif idle < 0.1:
            self.jobs = self.cores * OVERLAP  # something else wants the CPUs: back at once

    def _warm_up(self) -> None:
        """Migrated databases made from the instructor's own stages, for every run to start from.

        Migrating costs about a second a run. The harness keeps migrated databases by the hash
        of the migrations; a database one student's code made is never offered to another
        (their code could have changed it), but one the instructor's stages made is safe.
        """
        pristine = self.workroot / "pristine"
        stages, seen, built = [], set(), {}
        for number in range(len(all_exercises()) + 1):
            folder = self.workroot / "stages" / f"{number:02d}"
            try:
                write_stage(number, folder)
            except StageError:
                continue  # an exercise still being written: nothing to grade against it
            built[number] = folder
            digest = hashlib.sha256()
            for file in sorted(folder.rglob("migrations/*.py")):
                digest.update(file.read_bytes())
            apps = _APPS.search((folder / "config" / "settings.py").read_text())
            digest.update(apps[0].encode() if apps else b"")
            if digest.hexdigest() not in seen:
                seen.add(digest.hexdigest())
                stages.append(folder)
        first = all_exercises()[0].number
        for n, folder in enumerate(stages):
            job = {"id": f"warm-up:{n}", "exercise": first, "seed": 1, "content_hash": "",
                   "limits": runs.DEFAULT_LIMITS, "warm_up": True}
            self.submit(job, folder, db_cache=pristine)
        while self._running:
            self.wait(1.0)
        self._pristine = sorted(pristine.glob("*.sqlite3"))
        self._reference(built)

    def _reference(self, built: dict[int, Path]) -> None:
        """What crosses the broker during each check of exercise NN on the instructor's stage
        NN: the witness's yardstick for students' runs (verdict.py). These runs go beside the
        first students' runs; a student's result waits for its exercise's reference."""
        for exercise in all_exercises():
            folder = built.get(int(exercise.number))
            if folder is None or (self.exercises and exercise.number not in self.exercises):
                continue
            job = {"id": f"reference:{exercise.number}", "exercise": exercise.number,
                   "seed": 1, "content_hash": "", "limits": runs.DEFAULT_LIMITS}
            self._pending.add(exercise.number)
            self.submit(job, folder, db_cache=self.workroot / "pristine")

    def _keep_reference(self, number: str, result: dict) -> None:
        crossed = witnessed(result["records"], result.get("witness", {}).get("published", []))
        self.references[number] = {
            r["id"]: crossed.get(r["id"], 0) for r in result["records"]
            if r.get("event") == "check"
            and (r.get("status") == "passed" or r.get("timing"))}  # slow, but it ran
        self._pending.discard(number)

    def submit(self, job: dict, project: Path, db_cache: Path | None = None) -> None:
        if self._pristine is None:
            self._pristine = []
            self._warm_up()
        if db_cache is None:
            db_cache = self.workroot / "db" / job["content_hash"]
            if not db_cache.is_dir():
                db_cache.mkdir(parents=True)
                for template in self._pristine:
                    shutil.copyfile(template, db_cache / template.name)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", job["id"])
        work = self.workroot / "runs" / safe
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        spec = {**job, "project": str(project), "workdir": str(work),
                "result_file": str(work) + ".json", "broker": "",
                "db_cache": str(db_cache),
                "read_only": [str(REPO), str(self.workroot.resolve()), *self.protect]}
        self._running[job["id"]] = spec
        self._start().submit(spec)

    def wait(self, timeout: float) -> list[tuple[str, dict]]:
        """Jobs that finished within ``timeout`` seconds, with their results."""
        if not self._running and not self._held:
            time.sleep(min(timeout, 0.05))
            return []
        done = []
        for line in self._start().finished(timeout) if self._running else []:
            spec = self._running.pop(line["id"], None)
            if spec is None:
                continue
            try:
                result = json.loads(Path(spec["result_file"]).read_text())
            except (OSError, ValueError):
                result = runs.failed_run(spec["exercise"], spec["seed"],
                                         "The grader lost this run's result (its keeper "
                                         f"process ended with status {line['status']}).")
            shutil.rmtree(spec["workdir"], ignore_errors=True)
            Path(spec["result_file"]).unlink(missing_ok=True)
            if spec["id"].startswith("reference:"):
                self._keep_reference(spec["exercise"], result)
            elif spec["id"].startswith("warm-up:"):
                done.append((spec["id"], result))
            else:
                self._held.append((spec, result))
        held, self._held = self._held, []
        for spec, result in held:
            if spec["exercise"] in self._pending:
                self._held.append((spec, result))
                continue
            result["integrity"] = judge(find_exercise(spec["exercise"]), result,
                                        self.references.get(spec["exercise"]))
            done.append((spec["id"], result))
        return done

    def run_one(self, job: dict, project: Path, timeout: float) -> dict:
        """Run one job to the end (a Celery grading worker's way)."""
        self.submit(job, project)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for job_id, result in self.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                if job_id == job["id"]:
                    return result
        return runs.failed_run(job["exercise"], job["seed"],
                               f"The grading worker gave up on this run after {timeout:g} s.")

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None

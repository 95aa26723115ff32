"""``python -m grader gradescope``: grade one submission as a Gradescope autograder, and build
the zip an instructor uploads (``--package autograder.zip``).

Gradescope puts the student's files in /autograder/submission and reads
/autograder/results/results.json. This grades that one submission exactly as
``python -m grader grade`` would (same engine, same fences), then writes Gradescope's format:
one test per exercise, its score and max_score from exercise.toml, and the student's feedback.
The upload is this repository's files plus grader/gradescope/setup.sh and run_autograder at
the zip's root.
"""

from __future__ import annotations

import json
import re
import stat
import tempfile
import zipfile
from pathlib import Path

from ..exercises import REPO
from .engine import Options, grade_class

__all__ = ["build_package", "run_gradescope", "to_gradescope"]

# What an autograder needs of this repository: the grader, the checkers, the stages (for the
# migrated-database warm-up), the lessons feedback points to, and how to install it all.
PACKAGED = ("Makefile", "requirements.txt", "pyproject.toml", "README.md", "scripts", "grader",
            "exercises", "lessons", "solutions", "starter_project")
LEFT_OUT = re.compile(r"(^|/)(__pycache__|\.cache|\.pytest_cache|\.venv|\.git|node_modules)(/|$)"
                      r"|\.py[cod]$|(^|/)(\.env|db\.sqlite3|celerybeat-schedule[^/]*)$")
SHIPPED = REPO / "grader" / "gradescope"


def to_gradescope(document: dict) -> dict:
    """Our results.json, for one student, in Gradescope's results format."""
    student = document["students"][0]
    tests = []
    for exercise, graded in zip(document["exercises"], student["exercises"]):
        lines = [check["message"] for check in graded["checks"]]
        if graded["problem"]:
            lines.append(graded["problem"])
        if graded.get("rerun"):
            lines.append(graded["rerun"])
        tests.append({
            "name": f"Exercise {exercise['number']} · {exercise['title']}",
            "number": exercise["number"], "score": graded["score"],
            "max_score": exercise["points"],
            "status": "passed" if graded["score"] == exercise["points"] else "failed",
            "output": "\n".join(lines) + f"\n\nReplay: make check EX={exercise['number']} "
                                         f"SEED={graded['seed']}",
        })
    result = {"score": student.get("total", 0), "tests": tests, "visibility": "visible",
              "stdout_visibility": "hidden"}
    if student["status"] != "graded":
        result["output"] = student["status"]
    return result


def run_gradescope(submission: Path, results: Path, exercises, seed: int, limits: dict) -> int:
    code = 0
    with tempfile.TemporaryDirectory(prefix="encore-gradescope-") as tmp:
        root = Path(tmp) / "class"
        root.mkdir()
        if submission.is_dir():
            (root / "submission").symlink_to(submission.resolve(), target_is_directory=True)
        options = Options(root, Path(tmp) / "out", exercises, jobs=2, seed=seed, fresh=True,
                          limits=limits)
        try:
            grade_class(options)
            document = json.loads((options.out / "results.json").read_text())
        except Exception as exc:  # noqa: BLE001 - Gradescope shows the student this sentence
            document, code = None, 1
            answer = {"score": 0, "tests": [], "output": "The autograder could not grade this "
                      f"submission ({type(exc).__name__}: {exc}). Please tell your instructor."}
    if document is not None and not document["students"]:
        answer = {"score": 0, "tests": [], "output": f"There is no submission in {submission}."}
    elif document is not None:
        answer = to_gradescope(document)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(answer, indent=1, ensure_ascii=False))
    print(f"Score {answer['score']}; results written to {results}.")
    return code


def _packaged_files() -> list[Path]:
    files = []
    for top in PACKAGED:
        path = REPO / top
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in candidates:
            rel = file.relative_to(REPO).as_posix()
            if file.is_file() and not file.is_symlink() and not LEFT_OUT.search(rel):
                files.append(file)
    return files


def build_package(dest: Path, exercises: str = "") -> list[str]:
    """Write the zip to upload to Gradescope; returns the names in it.

    ``exercises`` ("01-03"), when given, is written into run_autograder.
    """
    runner = (SHIPPED / "run_autograder").read_text()
    if exercises:
        runner = re.sub(r'^EXERCISES=""', f'EXERCISES="{exercises}"', runner, flags=re.M)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    names = []
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", (SHIPPED / "setup.sh").read_text()),
                           ("run_autograder", runner)):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
            names.append(name)
        for file in _packaged_files():
            name = file.relative_to(REPO).as_posix()
            archive.write(file, name)
            names.append(name)
    partial.replace(dest)
    return names

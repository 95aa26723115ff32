"""``python -m grader gradescope``: grade one submission as a Gradescope autograder.

Gradescope puts the student's files in /autograder/submission and reads
/autograder/results/results.json. This grades that one submission exactly as
``python -m grader grade`` would (same engine, same fences), then writes Gradescope's format:
one test per exercise, its score and max_score from exercise.toml, and the student's feedback.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .engine import Options, grade_class

__all__ = ["run_gradescope", "to_gradescope"]


def to_gradescope(document: dict) -> dict:
    """Our results.json, for one student, in Gradescope's results format."""
    student = document["students"][0]
    tests = []
    for exercise, graded in zip(document["exercises"], student["exercises"]):
        lines = [check["message"] for check in graded["checks"]]
        if graded["problem"]:
            lines.append(graded["problem"])
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
    with tempfile.TemporaryDirectory(prefix="encore-gradescope-") as tmp:
        root = Path(tmp) / "class"
        root.mkdir()
        if submission.is_dir():
            (root / "submission").symlink_to(submission.resolve(), target_is_directory=True)
        options = Options(root, Path(tmp) / "out", exercises, jobs=2, seed=seed, fresh=True,
                          limits=limits)
        grade_class(options)
        document = json.loads((options.out / "results.json").read_text())
    if not document["students"]:
        answer = {"score": 0, "tests": [], "output": f"There is no submission in {submission}."}
    else:
        answer = to_gradescope(document)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(answer, indent=1, ensure_ascii=False))
    print(f"Score {answer['score']}; results written to {results}.")
    return 0

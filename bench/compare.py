"""``make bench BASE=rev``: did the checkers get slower than they were at an earlier commit?

Each exercise's ``make check EX=NN`` runs on its own stage, as committed at ``rev`` and as it
stands now, taking turns (base, now, base, now...) with the same seeds, so a machine that gets
busier during the run slows both sides alike. Only the ratio of the medians is worth quoting.
The base's code runs on this venv: a base that needs other packages says so in its failures.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.exercises import REPO, all_exercises

from . import PYTHON, BenchError, child_env, median, run_timed, tail

CHECK_TIMEOUT = 120.0
STAGE_TIMEOUT = 120.0
GROWTH_LIMIT = 1.10  # issue 8: check times may not grow by more than 10 %


@dataclass
class Pair:
    number: str
    base: list[float]
    now: list[float]

    @property
    def ratio(self) -> float:
        return median(self.now) / median(self.base)


def _tree_at(rev: str, dest: Path) -> str:
    """Write the repository as committed at ``rev`` into ``dest``; return its short hash."""
    try:
        short = subprocess.run(["git", "rev-parse", "--short", f"{rev}^{{commit}}"], cwd=REPO,
                               capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        raise BenchError(f"{rev!r} is not a commit of this repository (try `git log --oneline`)."
                         ) from None
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", short.strip()], cwd=REPO,
                             capture_output=True, check=True, timeout=120).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True, timeout=120)
    return short.strip()


def _stage(tree: Path, number: str, dest: Path, log: Path) -> None:
    # ENCORE_STAGES=worktree: the extracted tree has no .git to build stages from.
    _, status = run_timed([PYTHON, "-m", "grader", "stage", number, str(dest)], tree,
                          child_env(ENCORE_STAGES="worktree"), log, STAGE_TIMEOUT)
    if status != 0:
        raise BenchError(f"Could not write stage {number} from {tree.name}:\n{tail(log)}")


def _numbers(tree: Path) -> set[str]:
    return {p.name[:2] for p in (tree / "exercises").glob("[0-9][0-9]-*")
            if (p / "check.py").is_file()}


def compare(rev: str, runs: int, workdir: Path, say=print) -> tuple[str, list[Pair]]:
    base_tree = workdir / "base"
    short = _tree_at(rev, base_tree)
    numbers = sorted(_numbers(base_tree) & {e.number for e in all_exercises()})
    if not numbers:
        raise BenchError(f"{short} has no exercise with a checker in common with this one.")
    pairs = []
    for number in numbers:
        say(f"  exercise {number}: {runs} runs each, taking turns with {short}...")
        sides = {"base": (base_tree, workdir / f"base-{number}"),
                 "now": (REPO, workdir / f"now-{number}")}
        times: dict[str, list[float]] = {"base": [], "now": []}
        for side, (tree, project) in sides.items():
            _stage(tree, number, project, workdir / f"stage-{side}-{number}.log")
        for seed in range(1, runs + 1):
            for side, (tree, project) in sides.items():
                log = workdir / f"check-{side}-{number}.log"
                seconds, status = run_timed(
                    [PYTHON, "-m", "grader", "check", number, "--project", str(project),
                     "--seed", str(seed)], tree, child_env(), log, CHECK_TIMEOUT)
                if status != 0:
                    where = short if side == "base" else "this checkout"
                    raise BenchError(f"`make check EX={number}` did not pass on its own stage "
                                     f"in {where} (seed {seed}), so its time means nothing:\n"
                                     f"{tail(log)}")
                times[side].append(seconds)
        pairs.append(Pair(number, times["base"], times["now"]))
    return short, pairs


def table(short: str, pairs: list[Pair]) -> list[str]:
    lines = [f"  {'make check on its own stage':<30}{short:>10}{'now':>10}{'now ÷ base':>12}"]
    for pair in pairs:
        flag = "✗ grew more than 10 %" if pair.ratio > GROWTH_LIMIT else "✓"
        lines.append(f"  {'EX=' + pair.number + f' ({len(pair.now)} runs each)':<30}"
                     f"{median(pair.base):>8.2f} s{median(pair.now):>8.2f} s"
                     f"{pair.ratio:>11.2f}  {flag}")
    return lines


def run(rev: str, runs: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="encore-bench-compare-") as tmp:
        short, pairs = compare(rev, runs, Path(tmp))
    return table(short, pairs)

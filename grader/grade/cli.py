"""``python -m grader grade`` and ``python -m grader gradescope``: the instructors' commands."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ..exercises import all_exercises
from .runs import DEFAULT_LIMITS

__all__ = ["add_parsers", "pick_exercises"]


class UsageError(Exception):
    pass


def pick_exercises(text: str | None):
    """"01-08", "01,03", "2": the exercises that exist among them, in course order."""
    known = all_exercises()
    if not text:
        return known
    wanted: set[int] = set()
    for part in text.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise UsageError(f"--exercises takes numbers and ranges such as 01-03 or 01,03, "
                             f"not {text!r}.")
        wanted.update(range(int(low), int(high or low) + 1))
    chosen = [e for e in known if int(e.number) in wanted]
    if not chosen:
        raise UsageError(f"None of the exercises {text} exist yet. The exercises are: "
                         f"{', '.join(e.number for e in known)}.")
    return chosen


def _limits(args) -> dict:
    limits = dict(DEFAULT_LIMITS)
    limits.update(limit=args.timeout, load_limit=args.load_timeout,
                  check_limit=args.check_timeout, memory_mb=args.memory,
                  processes=args.processes)
    return limits


def grade(args) -> int:
    from .engine import Options, grade_class
    from .submissions import read_roster
    try:
        submissions = Path(args.submissions)
        if not submissions.is_dir():
            raise UsageError(f"There is no folder {submissions}: give the folder that holds "
                             "one folder or archive per student.")
        exercises = pick_exercises(args.exercises)
        roster = read_roster(Path(args.roster)) if args.roster else None
        if args.backend == "celery" and not args.broker:
            raise UsageError("--backend celery needs --broker, e.g. redis://127.0.0.1:6379/11 "
                             "or amqp://guest:guest@127.0.0.1:5672//.")
        if args.jobs < 1:
            raise UsageError("--jobs must be 1 or more.")
    except (UsageError, ValueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.resolve() == submissions.resolve() or submissions.resolve() in out.resolve().parents:
        print("--out must not be inside the submissions folder.", file=sys.stderr)
        return 2
    started = time.monotonic()
    options = Options(submissions.resolve(), out.resolve(), exercises, jobs=args.jobs,
                      seed=args.seed, fresh=args.fresh, roster=roster, backend=args.backend,
                      broker=args.broker or "", limits=_limits(args))
    try:
        class_ = grade_class(options)
    except Exception as exc:  # noqa: BLE001 - one plain sentence, never a traceback
        from .remote import RemoteError
        if isinstance(exc, RemoteError):
            print(exc, file=sys.stderr)
            return 1
        raise
    if args.lessons_url:  # the engine wrote the pages with the default base: write them again
        from .results import write_feedback_html
        write_feedback_html(out.resolve(), class_, exercises, args.lessons_url)
    graded = sum(1 for g in class_ if g.graded == "graded")
    partly = sum(1 for g in class_ if g.graded.startswith("partly"))
    print(f"Graded {len(class_)} submissions × {len(exercises)} exercises in "
          f"{time.monotonic() - started:.1f} s: {graded} graded, {partly} partly graded, "
          f"{len(class_) - graded - partly} not gradable.")
    look = sum(1 for g in class_ if g.look)
    if look:
        print(f"{look} submission{'s' if look > 1 else ''} need{'' if look > 1 else 's'} a "
              "look (results the grader could not back, or suspicious code): see summary.md.")
    reruns = sum(1 for g in class_ for r in g.results.values() if r.get("rerun"))
    if reruns:
        print(f"{reruns} run{'s' if reruns > 1 else ''} had a failed timing check and "
              f"{'were' if reruns > 1 else 'was'} run again alone; summary.md lists them.")
    print(f"Results in {out}: gradebook.csv, results.json, summary.md and summary.html, "
          "feedback/.")
    return 0


def gradescope(args) -> int:
    from .gradescope import build_package, run_gradescope
    try:
        exercises = pick_exercises(args.exercises)
        if args.package:
            names = build_package(Path(args.package), args.exercises or "")
            print(f"Wrote {args.package}: {len(names)} files, with setup.sh and run_autograder "
                  f"at the top, grading exercises {', '.join(e.number for e in exercises)}. "
                  "Upload it as the assignment's autograder (docs/instructors.md).")
            return 0
    except (UsageError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    root = Path(args.root)
    submission = Path(args.submission) if args.submission else root / "submission"
    results = Path(args.results) if args.results else root / "results" / "results.json"
    if not submission.is_dir():
        print(f"There is no folder {submission}: Gradescope puts the student's files there "
              "(give --root or --submission to grade another folder).", file=sys.stderr)
        return 2
    return run_gradescope(submission, results, exercises, args.seed, _limits(args))


def _common(parser) -> None:
    parser.add_argument("--exercises", help="e.g. 01-08 or 01,03 (default: every exercise)")
    parser.add_argument("--seed", type=int, default=1,
                        help="base seed; each student's seed derives from it and their name")
    parser.add_argument("--timeout", type=float, default=DEFAULT_LIMITS["limit"],
                        help="hard limit in seconds per (submission, exercise)")
    parser.add_argument("--load-timeout", type=float, default=DEFAULT_LIMITS["load_limit"],
                        help="seconds for a project to import and migrate")
    parser.add_argument("--check-timeout", type=float, default=DEFAULT_LIMITS["check_limit"],
                        help="seconds for one check")
    parser.add_argument("--memory", type=int, default=DEFAULT_LIMITS["memory_mb"],
                        help="address-space limit in MB per run")
    parser.add_argument("--processes", type=int, default=DEFAULT_LIMITS["processes"],
                        help="processes and threads per run")


def add_parsers(sub) -> None:
    p = sub.add_parser("grade", help="grade a folder of submissions (instructors)")
    p.add_argument("submissions", help="a folder with one folder or archive per student")
    p.add_argument("--out", default="grading-out", help="where results go (default grading-out)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                   help="cores to use, three runs at once on each (default: every core)")
    p.add_argument("--roster", help="CSV with columns submission,name[,id]")
    p.add_argument("--fresh", action="store_true", help="ignore cached results")
    p.add_argument("--backend", choices=("local", "celery"), default="local")
    p.add_argument("--broker", help="with --backend celery: the grading queue's Redis or AMQP URL")
    p.add_argument("--lessons-url", help="where the feedback pages' lesson links point, e.g. "
                   "https://github.com/you/encore/blob/main/lessons/ (default: this "
                   "repository's lessons/, relative to OUT/feedback/)")
    _common(p)
    p.set_defaults(func=grade)
    p = sub.add_parser("gradescope", help="run as a Gradescope autograder, or build its zip")
    p.add_argument("--root", default="/autograder",
                   help="Gradescope's folder: grades ROOT/submission into "
                        "ROOT/results/results.json (default /autograder)")
    p.add_argument("--submission", help="the student's files (default ROOT/submission)")
    p.add_argument("--results", help="where results.json goes (default "
                                     "ROOT/results/results.json)")
    p.add_argument("--package", metavar="ZIP", help="instead of grading, write the zip to "
                   "upload to Gradescope (with --exercises: the ones it grades)")
    _common(p)
    p.set_defaults(func=gradescope)

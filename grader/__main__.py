"""Command line: ``python -m grader check|stage|run|flower|broker|grade|gradescope ...``
(the Makefile wraps each one)."""

from __future__ import annotations

import argparse
import errno
import os
import random
import sys
import time
from pathlib import Path

from . import report
from .exercises import REPO, UnknownExercise, all_exercises, find_exercise
from .grade.cli import add_parsers as add_grading_parsers
from .harness.project import ProjectError, check_layout
from .runner import DEFAULT_LIMIT, finish_checker, start_checker
from .stage import StageError, write_stage


def _style() -> report.Style:
    return report.Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))


def _say(lines) -> None:
    print("\n".join(lines), flush=True)


def _replay(args, exercise_number: str, seed: int) -> str:
    parts = [f"make check EX={exercise_number}"]
    if Path(args.project).resolve() != (REPO / "starter_project").resolve():
        parts.append(f"PROJECT={report.shown(args.project)}")
    if args.broker:
        parts.append(f"BROKER={args.broker}")
    parts.append(f"SEED={seed}")
    return " ".join(parts)


def _check_one(exercise, project: Path, broker, seed: int, args, style, pending=None):
    """Run one exercise's checker (or let ``pending``, a warm one started for it, go),
    printing its report as it comes; the CheckRun."""
    _say([""] + report.header(f"Exercise {exercise.number} · {exercise.title}",
                              report.shown(project), style))
    pending = pending or start_checker(exercise, project, broker=broker, seed=seed,
                                       limit=getattr(args, "timeout", DEFAULT_LIMIT))
    run = finish_checker(pending, on_record=lambda r: r.get("event") == "check" and _say(
        report.check_lines(r, style)))
    _say(report.summary(run, _replay(args, exercise.number, seed), style))
    if not run.passed and any(c["status"] in ("failed", "error") for c in run.checks):
        _say([style.dim(f"Stuck? `make hint EX={exercise.number}` shows a hint, one at a time.")])
    return run


def check(args) -> int:
    style = _style()
    project = Path(args.project)
    try:
        check_layout(project)
    except ProjectError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    broker = args.broker or os.environ.get("REDIS_URL") or None
    if broker:
        from .harness.broker import BrokerUnreachable, checkable
        try:
            checkable(broker, "BROKER" if args.broker else "REDIS_URL")
        except BrokerUnreachable as exc:
            print(f"{exc}\n{exc.hint}", file=sys.stderr)
            return 2
    seed = args.seed if args.seed is not None else random.randrange(1, 100_000)
    exercises = [find_exercise(args.exercise)] if args.exercise else all_exercises()
    runs = [_check_one(exercise, project, broker, seed, args, style) for exercise in exercises]
    if len(runs) > 1:
        _say([""] + report.progress_table(runs, style))
    if args.html:
        from .html_report import write_check_page
        write_check_page(Path(args.html), runs, lambda n: _replay(args, n, seed))
        _say([f"Wrote {report.shown(args.html)}: open it in your browser."])
    return 0 if all(run.passed for run in runs) else 1


def stage(args) -> int:
    try:
        number = int(args.exercise)
        applied = write_stage(number, Path(args.dest))
    except ValueError:
        print(f"EX must be a number such as 03, not {args.exercise!r}.", file=sys.stderr)
        return 2
    except StageError as exc:
        print(exc, file=sys.stderr)
        return 2
    what = f"starter_project plus {', '.join(applied)}" if applied else "the starter"
    print(f"Wrote stage {number:02d} to {args.dest}: {what}, as committed in git (your own "
          "edits in the working folder are not in it).")
    return 0


def run(args) -> int:
    from .stack import run_stack
    return run_stack(Path(args.project))


def flower(args) -> int:
    from .stack import run_flower
    return run_flower(Path(args.project))


def broker(args) -> int:
    """Serve the embedded broker in the foreground until Ctrl-C."""
    from .harness.broker import EmbeddedRedis
    try:
        server = EmbeddedRedis(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"Something already listens on {args.host}:{args.port} — perhaps a real Redis? "
                  "Check with `redis-cli ping`; you don't need this broker then.", file=sys.stderr)
        else:
            print(f"Cannot serve on {args.host}:{args.port}: {exc.strerror or exc}.",
                  file=sys.stderr)
        return 1
    with server:
        print(f"Embedded broker (fakeredis) on {server.url(0)} — Ctrl-C stops it; "
              "what it holds is lost when it stops.", flush=True)
        try:
            while True:
                time.sleep(1)  # a short sleep: Ctrl-C interrupts it on every platform
        except KeyboardInterrupt:
            print("Embedded broker stopped.")
    return 0


def hint(args) -> int:
    from .hints import next_hint, reset
    exercise = find_exercise(args.exercise)
    if args.reset:
        reset(exercise)
        print(f"Hints for exercise {exercise.number} start again from the first one.")
        return 0
    _say(next_hint(exercise))
    return 0


def solution(args) -> int:
    from . import solution as ref
    from .stage import StageError
    exercise, project, style = find_exercise(args.exercise), Path(args.project), _style()
    try:
        check_layout(project)
        if args.restore:
            backup, files = ref.restore(exercise, project)
            if backup is None:
                print(f"There is no backup of solution {exercise.number} for "
                      f"{report.shown(project)} to restore.", file=sys.stderr)
                return 1
            print(f"Restored {len(files)} file(s) of {report.shown(project)} as they were "
                  f"before solution {exercise.number}: {', '.join(files)}.")
            return 0
        changes = ref.differences(exercise, project)
    except (ProjectError, StageError) as exc:
        print(getattr(exc, "message", str(exc)), file=sys.stderr)
        return 2
    if not changes:
        print(f"{report.shown(project)} already has every file of solution {exercise.number} "
              "exactly as written.")
        return 0
    _say(ref.diff_lines(changes, exercise, style.paint) + [""])
    names = ", ".join(str(rel) for rel in changes)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"Nothing changed. To write these files ({names}) into "
                  f"{report.shown(project)}, keeping a backup, run "
                  f"`make solution EX={exercise.number} APPLY=yes`.")
            return 0
        answer = input(f"Write these {len(changes)} file(s) into {report.shown(project)}? "
                       "Your versions are backed up first. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    backup = ref.apply(exercise, project, changes)
    print(f"Wrote {names}. Your versions are in {report.shown(backup)}; "
          f"`make solution EX={exercise.number} RESTORE=1` puts them back.")
    return 0


def queue(args) -> int:
    from .harness.broker import BrokerUnreachable, ping, redact
    from .local_broker import NO_ANSWER, START_A_BROKER, stack_broker
    from .queues import look, render
    url, where = stack_broker(Path(args.project))
    try:
        client = ping(url)
    except BrokerUnreachable:
        print(NO_ANSWER.format(url=redact(url), where=where), START_A_BROKER, file=sys.stderr)
        return 1
    _say(render(look(client), f"{redact(url)} ({where})"))
    return 0


def doctor(args) -> int:
    from .doctor import diagnose, render
    project = Path(args.project).resolve()
    try:
        check_layout(project)
    except ProjectError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    findings = diagnose(project)
    _say(render(findings, report.shown(project)))
    return 1 if any(f.ok is False for f in findings) else 0


def watch(args) -> int:
    from .watch import watch_project
    try:
        check_layout(Path(args.project))
    except ProjectError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    exercise, project, style = find_exercise(args.exercise), Path(args.project), _style()

    def ready():
        """A warm checker process, started now, that waits until the next save."""
        seed = args.seed if args.seed is not None else random.randrange(1, 100_000)
        return seed, start_checker(exercise, project, broker=args.broker, seed=seed, warm=True)

    spare = [ready()]

    def check_once() -> bool:
        seed, pending = spare.pop()
        try:
            return _check_one(exercise, project, args.broker, seed, args, style,
                              pending).passed
        finally:
            spare.append(ready())

    try:
        return watch_project(exercise, project, check_once, clear=sys.stdout.isatty())
    finally:
        for _, pending in spare:
            pending.cancel()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader",
                                     description="Check, stage and run the Encore workshop.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check your project against one exercise, or all of them")
    p.add_argument("exercise", nargs="?", help="exercise number, e.g. 02 (default: all)")
    p.add_argument("--project", default=str(REPO / "starter_project"),
                   help="the folder with manage.py (default: starter_project)")
    p.add_argument("--broker", help="a Redis URL (default: $REDIS_URL, else embedded fakeredis)")
    p.add_argument("--seed", type=int, help="replay a run's random data")
    p.add_argument("--timeout", type=float, default=DEFAULT_LIMIT,
                   help=f"hard limit in seconds per exercise (default {DEFAULT_LIMIT:g})")
    p.add_argument("--html", metavar="FILE", help="also write the report as a web page")
    p.set_defaults(func=check)
    p = sub.add_parser("stage", help="write the project as it stands after exercise NN")
    p.add_argument("exercise", help="00 for the starter, 01..NN for later stages")
    p.add_argument("dest", help="a new or empty folder")
    p.set_defaults(func=stage)
    p = sub.add_parser("run", help="run Encore: web server, worker, beat, Flower and broker")
    p.add_argument("--project", default=str(REPO / "starter_project"))
    p.set_defaults(func=run)
    p = sub.add_parser("flower", help="run Flower alone, on REDIS_URL's broker")
    p.add_argument("--project", default=str(REPO / "starter_project"))
    p.set_defaults(func=flower)
    p = sub.add_parser("broker", help="serve the embedded Redis-compatible broker until Ctrl-C")
    p.add_argument("--port", type=int, default=6379, help="default 6379, Redis's own port")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    p.set_defaults(func=broker)
    project_help = "the folder with manage.py (default: starter_project)"
    p = sub.add_parser("hint", help="show the exercise's next hint")
    p.add_argument("exercise")
    p.add_argument("--reset", action="store_true", help="start the hints again")
    p.set_defaults(func=hint)
    p = sub.add_parser("solution", help="show the reference solution as a diff; apply on yes")
    p.add_argument("exercise")
    p.add_argument("--project", default=str(REPO / "starter_project"), help=project_help)
    p.add_argument("--yes", action="store_true", help="apply without asking (a backup is kept)")
    p.add_argument("--restore", action="store_true", help="put back the files it replaced")
    p.set_defaults(func=solution)
    p = sub.add_parser("queue", help="show what the broker holds right now")
    p.add_argument("--project", default=str(REPO / "starter_project"), help=project_help)
    p.set_defaults(func=queue)
    p = sub.add_parser("doctor", help="find what is wrong with your running Celery set-up")
    p.add_argument("--project", default=str(REPO / "starter_project"), help=project_help)
    p.set_defaults(func=doctor)
    p = sub.add_parser("watch", help="check an exercise again each time you save a file")
    p.add_argument("exercise")
    p.add_argument("--project", default=str(REPO / "starter_project"), help=project_help)
    p.add_argument("--broker", help="a Redis URL (default: embedded fakeredis)")
    p.add_argument("--seed", type=int, help="the same random data on every run")
    p.set_defaults(func=watch)
    add_grading_parsers(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UnknownExercise as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`make check | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())

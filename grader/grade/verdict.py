"""Whether a run's verdict can be trusted: the evidence against it, from outside student code.

A checker runs in the same interpreter as the student's code, so its records alone prove
nothing. The parent (the keeper process in zygote.py) holds what the student's process cannot
touch, and a run is *flagged* (scored 0, "needs a look", with the evidence) when any of these
disagrees with its records:

- **the channel**: every record must carry the run's HMAC and the next sequence number
  (runner.RecordReader); a line that does not is evidence;
- **the protocol an honest run follows**: no check result while the project loads; exactly the
  instructor's checks (read from check.py), each once, in order, each inside its own phase;
  no check "passed" when pytest's own outcome of one of its phases, sent the moment it was
  known, said otherwise; the end written by the harness with its tripwire pipe still open;
- **the tripwires** the run set off (harness/tripwire.py), reported as they happened;
- **the witness**: the broker is served by the keeper, outside the student's process, and sees
  every task message that really crossed it. A check that, on the instructor's own stage, has
  task messages crossing the broker while it runs, and that claims "passed" with none crossing,
  is not backed; and every message Celery itself said it published (its after_task_publish,
  which the harness hears and sends with each check record, as task name and id) must have
  crossed the broker, with that id: a "publication" through Celery's own send_task_message
  with a producer that sends nothing is not one.

``scan`` is a static look at the submission's code for the same tricks; it is evidence for a
human (the row says "needs a look"), never a zero by itself.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from ..exercises import Exercise
from ..runner import SET_UP_LINES

__all__ = ["judge", "witnessed", "scan", "checker_ids"]

_SET_UP = {*SET_UP_LINES, "collect", "internal", "celery_app", "worker", "flower"}
_LOADING = "loading your project"


@functools.cache
def checker_ids(exercise: Exercise) -> tuple[str, ...]:
    """The instructor's checks, in the order pytest runs them: check.py's test functions."""
    tree = ast.parse(exercise.checker.read_text())
    return tuple(node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name.startswith("test_"))


def witnessed(records: list[dict], published: list[list]) -> dict[str, int]:
    """How many task messages crossed the broker while each check ran.

    ``published``: [time, task name] pairs the broker saw; record ``t`` is the harness's own
    clock (CLOCK_MONOTONIC, shared by every process on the machine).
    """
    counts, opened = {}, None
    for record in records:
        if record.get("event") == "phase" and str(record.get("phase", "")).startswith("checking"):
            opened = record.get("t")
        elif record.get("event") == "check" and record.get("id") not in _SET_UP:
            closed = record.get("t")
            if opened is not None and closed is not None:
                counts[record["id"]] = sum(1 for when, _ in published if opened <= when <= closed)
            opened = None
    return counts


def _protocol(exercise: Exercise, result: dict) -> list[str]:
    ids = checker_ids(exercise)
    problems, seen, last, phase, loading, ended = [], set(), -1, None, False, False
    phases: dict[str, list[tuple[str, str]]] = {}  # pytest's outcome of each phase of a check
    for record in result["records"]:
        event = record.get("event")
        if ended:
            problems.append("A record arrived after the run's end record.")
            break
        if event == "report":
            phases.setdefault(record.get("id"), []).append((record.get("when"),
                                                             record.get("outcome")))
            continue
        if event == "check" and record.get("status") == "passed":
            bad = [f"{when} {outcome}" for when, outcome in phases.get(record.get("id"), ())
                   if outcome != "passed"]
            if bad:
                problems.append(f'"{record.get("id")}" was reported passed, but pytest said '
                                f"otherwise while it ran ({', '.join(bad)}).")
        if event == "phase":
            if loading:
                problems.append(f'"{record.get("phase")}" began while the project was still '
                                "loading.")
            loading = loading or record.get("phase") == _LOADING
            phase = record.get("phase")
        elif event == "check":
            check = record.get("id")
            if check == "loads":
                loading = False
                continue
            if check in _SET_UP:
                continue
            if loading:
                problems.append(f'A result for "{check}" arrived while the project was still '
                                "loading, before any check ran.")
            elif check not in ids:
                problems.append(f'A result arrived for "{check}", which is not a check of this '
                                "exercise.")
            elif check in seen:
                problems.append(f'"{check}" was reported twice.')
            elif ids.index(check) < last:
                problems.append(f'"{check}" was reported out of order.')
            elif phase != f"checking: {record.get('title')}":
                problems.append(f'"{check}" was reported outside its own phase.')
            seen.add(check)
            last = max(last, ids.index(check) if check in ids else last)
            phase = None
        elif event == "end":
            ended = True
            if loading:
                problems.append("The run ended while the project was loading, before any "
                                "check ran.")
            if record.get("tripwires") is not True:
                problems.append("The run's end record does not say that the grader's tripwire "
                                "channel was still open.")
    return problems


def judge(exercise: Exercise, result: dict, reference: dict[str, int] | None = None) -> dict:
    """The evidence against ``result`` (a run's data): ``{"flagged": bool, "evidence": [...]}``.

    ``reference``: task messages per check on the instructor's own stage (see ``witnessed``).
    Only a result from a run with a key (grading) is judged; others pass through.
    """
    if not result.get("signed"):
        return {"flagged": False, "evidence": []}
    evidence = [{"kind": "channel", "what": text} for text in result.get("forged", [])]
    evidence += [{"kind": "protocol", "what": text} for text in _protocol(exercise, result)]
    evidence += [{"kind": f"tripwire: {wire.get('kind')}", "what": wire.get("what", ""),
                  "where": wire.get("where", "")} for wire in result.get("tripwires", [])]
    evidence += _unsent(result)
    crossed = witnessed(result["records"], result.get("witness", {}).get("published", []))
    for record in result["records"]:
        check = record.get("id")
        if (record.get("event") == "check" and record.get("status") == "passed"
                and (reference or {}).get(check, 0) > 0 and crossed.get(check) == 0):
            evidence.append({"kind": "witness", "what": (
                f'"{check}" claims to have passed, but no task message crossed the broker while '
                f"it ran (on the instructor's stage, {reference[check]} did).")})
    return {"flagged": bool(evidence), "evidence": evidence[:30]}


def _unsent(result: dict) -> list[dict]:
    """Messages Celery published, by the run's records, that never crossed the broker."""
    witness = result.get("witness") or {}
    if not witness.get("served") or witness.get("overflowed") or "ids" not in witness:
        return []
    ids, found = set(witness["ids"]), []
    for record in result["records"]:
        for pair in record.get("sent") or ():
            if not (isinstance(pair, list) and len(pair) == 2) or "|".join(map(str, pair)) in ids:
                continue
            where = (f' during "{record["id"]}"' if record.get("event") == "check"
                     else " after the last check")
            found.append({"kind": "witness", "what": (
                f"Celery said it published a {pair[0]} message (id {pair[1]}){where}, but no "
                "message with that id crossed the broker.")})
            if len(found) >= 3:
                return found
    return found


# -- the static scan -----------------------------------------------------------------------------

_STRONG = [
    (re.compile(r"GRADER_[A-Z_]+"), "names the grader's variables"),
    (re.compile(r"\bgrader\.(harness|runner|grade)\b|['\"]grader['\"]"), "names the grader"),
    (re.compile(r"\b_pytest\b|\bpluggy\b"), "names pytest's internals"),
    (re.compile(r"/proc/(self|\d+|\{[^}]*\})/(fd|mem|maps|environ)|/dev/fd"),
     "reads its own process's files"),
    (re.compile(r"\bsys\._getframe\b|\bsys\._current_frames\b|\.f_back\b|\.tb_frame\b"),
     "walks the interpreter's frames"),
    (re.compile(r"\bgc\.get_(objects|referrers|referents)\b"), "searches the garbage collector"),
    (re.compile(r"\bctypes\b"), "uses ctypes"),
    (re.compile(r"\bos\._exit\b"), "ends its process at once"),
    (re.compile(r"(?<![.\w])(exec|eval)\s*\([^\n]{0,300}?(b64decode|decode|fromhex|codecs|zlib|"
                r"marshal|bytes\.fromhex|join)"), "executes decoded text"),
    (re.compile(r"\bsys\.(settrace|setprofile|addaudithook)\b"), "hooks the interpreter"),
    (re.compile(r"\.__code__\s*="), "swaps a function's code"),
]
_WEAK = [
    (re.compile(r"(?<![.\w])(exec|eval|compile)\s*\("), "calls exec, eval or compile"),
    (re.compile(r"\bbase64\b|\bcodecs\.decode\b|\bmarshal\b|\bzlib\.decompress\b"),
     "decodes data at run time"),
    (re.compile(r"\bsys\.modules\b"), "looks in sys.modules"),
    (re.compile(r"\bpytest\b"), "names pytest"),
    (re.compile(r"\b__import__\s*\(|\bimportlib\.import_module\b"), "imports by name"),
]


def scan(project: Path | None, limit: int = 400) -> dict:
    """Suspicious code in a submission: ``{"strong": [...], "weak": [...]}``, each
    ``"path:line: why"``. Only .py files of the project, only the first ``limit`` of them."""
    found = {"strong": [], "weak": []}
    if project is None or not Path(project).is_dir():
        return found
    files = sorted(p for p in Path(project).rglob("*.py") if "migrations" not in p.parts)[:limit]
    for file in files:
        try:
            text = file.read_text(errors="replace")[:200_000]
        except OSError:
            continue
        rel = file.relative_to(project)
        for kind, patterns in (("strong", _STRONG), ("weak", _WEAK)):
            for pattern, why in patterns:
                match = pattern.search(text)
                if match:
                    line = text.count("\n", 0, match.start()) + 1
                    found[kind].append(f"{rel}:{line}: {why} ({match.group(0)[:40]!r})")
    return {kind: items[:20] for kind, items in found.items()}

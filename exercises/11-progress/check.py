"""Exercise 11 · Live progress, a progress bar, and an email when it is done."""

import inspect
import json
import math
import re
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from django.urls import NoReverseMatch, reverse

from grader.harness import expect, fail, guard, needs
from grader.harness.page import code_only, no_comments, page_scripts, waits_on

# Seconds SEARCH_INDEX_DELAY makes each album take: a rebuild of the fewest albums (25) then
# lasts 3 s, so a task that reports at most once a second (as lesson 11 suggests for a long
# loop), even the first a second in, reports at least twice before the end on every seed.
# At 0.01 s a 0.2 s throttle reported once on some seeds (21 albums: 0.25 s in all).
PER_ALBUM = 0.12
TASK = "search.tasks.rebuild_search_index"
CELERY_STATES = ("PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "REVOKED", "RETRY",
                 "REJECTED", "IGNORED")
FINISHED = ("SUCCESS", "FAILURE", "REVOKED")
HOLD = 10  # seconds the worker may be held at one progress report


def project_environment(fake):
    """Each album takes PER_ALBUM seconds, also for a project that reads the delay at import."""
    return {"SEARCH_INDEX_DELAY": str(PER_ALBUM)}


def _task(project):
    return project.task(TASK, exercise="03",
                        expected="@shared_task(bind=True) def rebuild_search_index(self, ...) "
                        "in search/tasks.py", lesson="#step-1-report-progress-from-a-bound-task")


class Reports:
    """The states the worker stores besides Celery's own (update_state), each one held until
    the checker has looked at the project: the status URL, the index, the outbox. Every run
    then sees each report, however busy the machine."""

    def __init__(self):
        self.queue, self.done, self.closed = [], set(), False
        self._changed = threading.Condition()

    def store(self, original):
        def store_result(backend, task_id, result, state, *args, **kwargs):
            stored = original(backend, task_id, result, state, *args, **kwargs)
            # A state of the project's own; or one of Celery's, used to carry progress.
            own = state not in CELERY_STATES or (
                state not in FINISHED and isinstance(result, dict) and "current" in result)
            if own and threading.current_thread() is not threading.main_thread():
                report = {"task_id": task_id, "state": state, "meta": result,
                          "seen": threading.Event()}
                with self._changed:
                    self.queue.append(report)
                    self._changed.notify_all()
                if not self.closed:
                    report["seen"].wait(HOLD)
            return stored
        return store_result

    def finished(self, task_id=None, request=None, **_):
        with self._changed:
            self.done.add(task_id or getattr(request, "id", None))
            self._changed.notify_all()

    def next(self, task_id, within):
        """The next report, or None once ``task_id`` is done (or ``within`` s have passed)."""
        with self._changed:
            self._changed.wait_for(lambda: self.queue or task_id in self.done, within)
            return self.queue.pop(0) if self.queue else None


def _json(response, what):
    try:
        return json.loads(response.content)
    except ValueError:
        fail(f"{what} answered {response.status_code} with {response['Content-Type']}, "
             "not JSON.", "a JSON answer (JsonResponse)",
             lesson="#step-2-progress-in-the-status-url")


def _albums(fake, count):
    from music.models import Album, Artist

    artist = Artist.objects.create(name=fake.name(), email=fake.email())
    # bulk_create sends no post_save: no congratulations emails (exercise 05) to wait behind.
    Album.objects.bulk_create(Album(artist=artist, title=fake.title()) for _ in range(count))
    return list(Album.objects.filter(artist=artist).order_by("pk"))


@pytest.fixture(scope="module")
def run(project, celery_app, worker, fake):
    """One rebuild, asked for by a visitor with an address, watched report by report."""
    from celery.signals import task_postrun, task_revoked
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from grader.harness.mail import Outbox
    from music.models import Album
    from search.models import SearchEntry

    Album.objects.all().delete()  # and their entries: the index holds only what comes next
    total = fake.count(25, 32)
    albums = _albums(fake, total)
    # The index as it was: fewer entries than albums, each with a word no new entry has.
    stale, kept = f"stale{fake.token()}", total - fake.count(3, 6)
    SearchEntry.objects.bulk_create(SearchEntry(album=album, text=f"{album.title} {stale}")
                                    for album in albums[:kept])
    address = fake.email()
    # The address that asks: in the form's "email" field, and the logged-in user's.
    user = get_user_model().objects.create_user(fake.token(8), email=address)
    client = Client(raise_request_exception=True)
    client.force_login(user)
    outbox = Outbox()
    reports = Reports()
    backend_class = type(celery_app.backend)
    original, own = backend_class.store_result, "store_result" in vars(backend_class)
    backend_class.store_result = reports.store(original)
    task_postrun.connect(reports.finished, weak=False)
    task_revoked.connect(reports.finished, weak=False)
    seen = {"total": total, "kept": kept, "stale": stale, "address": address, "reports": [],
            "outbox": outbox, "client": client, "problem": None}
    try:
        with override_settings(SEARCH_INDEX_DELAY=PER_ALBUM):
            response = client.post("/search/rebuild/", {"email": address,
                                                        "email_address": address})
            seen["post"] = response
            try:
                body = json.loads(response.content) if response.status_code < 300 else {}
            except ValueError:
                body = {}
            task_id = seen["task_id"] = body.get("task_id") if isinstance(body, dict) else None
            if task_id:
                _watch(reports, task_id, seen)
    except Exception as exc:  # noqa: BLE001 - judged by the checks that need it
        seen["problem"] = f"{type(exc).__name__}: {exc}"
    finally:
        reports.closed = True
        for report in reports.queue:
            report["seen"].set()
        if own:
            backend_class.store_result = original
        else:
            del backend_class.store_result
        task_postrun.disconnect(reports.finished)
        task_revoked.disconnect(reports.finished)
    return seen


def _watch(reports, task_id, seen):
    """Look at the project at each report the rebuild makes, then let it go on."""
    from search.models import SearchEntry

    client, stale = seen["client"], seen["stale"]
    url = urlsplit(json.loads(seen["post"].content).get("status_url") or "").path or \
        f"/tasks/{task_id}/"
    deadline = time.monotonic() + seen["total"] * PER_ALBUM * 4 + 15
    while time.monotonic() < deadline:
        report = reports.next(task_id, deadline - time.monotonic())
        if report is None:
            break
        try:
            if report["task_id"] != task_id:
                continue
            try:
                status = client.get(url)
                status = (status.status_code, status.content)
            except Exception as exc:  # noqa: BLE001 - the status view's own crash, judged later
                status = (f"raised {type(exc).__name__}: {exc}", b"")
            seen["reports"].append({
                "state": report["state"], "meta": report["meta"], "status": status,
                "entries": SearchEntry.objects.count(),
                "stale": SearchEntry.objects.filter(text__contains=stale).count(),
                "emails": sum(seen["address"] in s.message.to for s in seen["outbox"].sent),
            })
        finally:
            report["seen"].set()
    seen["finished"] = task_id in reports.done


def _started(run):
    """The rebuild's task id, or a failure that says why there is none."""
    lesson = "#step-3-an-email-when-it-is-done"
    if run.get("post") is None:
        fail(f"POST /search/rebuild/ with an email address raised {run['problem']}.",
             "202 and the rebuild's id, as in exercise 03",
             "The POST's \"email\" field is optional: a POST without it must work too.",
             lesson=lesson)
    response = run["post"]
    expect(response.status_code < 300 and run.get("task_id"),
           f"POST /search/rebuild/ with an email address answered {response.status_code}: "
           f"{response.content[:200].decode(errors='replace')}.",
           '202 and {"task_id": ..., "status_url": ...}, as in exercise 03', lesson=lesson)
    if run["problem"]:
        fail(f"Watching the rebuild raised {run['problem']}.", "a rebuild that runs to its end",
             lesson="#step-1-report-progress-from-a-bound-task")
    if not run.get("finished"):
        within = run["total"] * PER_ALBUM * 4 + 15
        fail(f"The rebuild {run['task_id']} had not finished {within:.0f} s after the POST "
             f"({run['total']} albums, {PER_ALBUM} s each).",
             "the rebuild to finish", "Is the id your view answers the id of the task it "
             "started?", timing=True)
    from celery.result import AsyncResult

    result = AsyncResult(run["task_id"])
    if result.failed():
        fail(f"The rebuild {run['task_id']} failed on the worker: "
             f"{type(result.result).__name__}: {result.result}.",
             "a rebuild that reports its progress and succeeds",
             "self.update_state takes keywords: state=\"PROGRESS\", meta={...} (its first "
             "positional argument is a task id)." if isinstance(result.result, TypeError)
             else None, lesson="#step-1-report-progress-from-a-bound-task")
    return run["task_id"]


@guard
def test_task_is_bound(project, celery_app):
    """search.tasks.rebuild_search_index is a bound task (bind=True)"""
    task = _task(project)
    registered = celery_app.tasks.get(task.name, task)
    # Celery 5 makes the function of a task without bind=True a staticmethod of its class.
    expect(not isinstance(inspect.getattr_static(type(registered), "run", None), staticmethod),
           "rebuild_search_index is declared without bind=True, so it does not get itself "
           "as self (current_task, a global that names whatever the thread runs, is no "
           "substitute).",
           "@shared_task(bind=True) def rebuild_search_index(self, ...), reporting with "
           "self.update_state(...)",
           "Declare it with bind=True and call self.update_state.",
           lesson="#step-1-report-progress-from-a-bound-task")


def test_reports_progress(project, run):
    """The rebuild reports state PROGRESS with current and total as it goes"""
    _started(run)
    lesson = "#step-1-report-progress-from-a-bound-task"
    total, reports = run["total"], run["reports"]
    others = sorted({r["state"] for r in reports if r["state"] != "PROGRESS"})
    if not reports:
        fail(f"A rebuild of {total} albums stored no state of its own: the status URL goes "
             "from PENDING or STARTED straight to SUCCESS.",
             'self.update_state(state="PROGRESS", meta={"current": ..., "total": ...}) as it '
             "goes",
             "Pass rebuild_index a progress(current, total) function that calls "
             "self.update_state.", lesson=lesson)
    expect(not others, f"The rebuild reported its progress as state {' and '.join(others)}.",
           'state="PROGRESS", the name the status URL and the page look for',
           lesson=lesson)
    metas = [r["meta"] for r in reports]
    bad = next((m for m in metas if not isinstance(m, dict)
                or not {"current", "total"} <= set(m)), None)
    expect(bad is None, f"A progress report's meta was {bad!r}.",
           'a dict with "current" and "total": meta={"current": current, "total": total}',
           "Other keys may come along, but these two must be there, with these names.",
           lesson=lesson)
    pairs = [(m["current"], m["total"]) for m in metas]
    numbers = all(isinstance(v, int) and not isinstance(v, bool) for pair in pairs for v in pair)
    expect(numbers, f"The progress reports held {pairs[:3]}...: not whole numbers.",
           "current and total as numbers of albums", lesson=lesson)
    expect(all(t == total for _, t in pairs),
           f"With {total} albums, the reports gave totals {sorted({t for _, t in pairs})}.",
           f"total = {total}, the number of albums, as rebuild_index passes it", lesson=lesson)
    currents = [c for c, _ in pairs]
    expect(all(0 <= c <= total for c in currents),
           f"A report had current outside 0…{total}: {currents}.",
           "0 ≤ current ≤ total", lesson=lesson)
    expect(all(a < b for a, b in zip(currents, currents[1:])),
           f"The reports' current values went {currents}: not always growing.",
           "values that grow as albums are indexed", lesson=lesson)
    late = next((r for r in reports if r["meta"]["current"] < total
                 and r["entries"] == total and r["stale"] == 0), None)
    if late:
        fail(f"The rebuild reported {late['meta']['current']} of {total} albums done when the "
             f"new index, all {total} entries, was already written: the reports came after "
             "the work, all at the end.",
             "each report as the albums are indexed, while the work goes on",
             "Call self.update_state from the progress function that rebuild_index calls "
             "after each album, not after rebuild_index returns.", lesson=lesson)
    before_end = [c for c in currents if c < total]
    if len(before_end) < 2:
        fail(f"A rebuild of {total} albums reported {len(reports)} time(s) "
             f"(current {currents}): " + ("only once it was done." if not before_end else
                                          "too rarely for a bar to move."),
             "a report as the albums are indexed: after each album, or every few albums "
             "(at least every 10), or at least once a second",
             "Call self.update_state from the progress function that rebuild_index calls "
             "after each album, not after rebuild_index returns.", lesson=lesson)


def _percent_hint(pairs, percents):
    """What a wrong percent looks like, in words."""
    midway = [p for (c, t), p in zip(pairs, percents) if c < t] or percents
    if all(p == 0 for p in midway):
        return "current // total * 100 is 0 until the end: multiply first (current * 100 // total)."
    if all(isinstance(p, (int, float)) and p <= 1 for p in midway):
        return "That is a fraction between 0 and 1: multiply it by 100."
    return "percent = current * 100 // total (or round(current * 100 / total))."


@needs(test_reports_progress)
def test_status_shows_progress(project, run):
    """GET /tasks/<id>/ adds "progress" with current, total and percent"""
    lesson = "#step-2-progress-in-the-status-url"
    total = run["total"]
    answers = []
    for report in run["reports"]:
        code, content = report["status"]
        if isinstance(code, str):
            fail(f"While the task was in state PROGRESS, its status URL {code}.",
                 "200 and the state with its progress",
                 "In state PROGRESS, result.info is the meta dict the task stored.",
                 lesson=lesson)
        expect(code == 200, f"While the task was in state PROGRESS, its status URL answered "
               f"{code}: {content[:300].decode(errors='replace')}.",
               "200 and the state with its progress", lesson=lesson)
        try:
            body = json.loads(content)
        except ValueError:
            fail("The status URL answered something that is not JSON.", "JSON", lesson=lesson)
        answers.append((report["meta"], body))
    meta, body = answers[0]
    expect(body.get("state") == "PROGRESS", f"While the task was in state PROGRESS, the status "
           f"URL answered {body}.", '"state": "PROGRESS"', lesson=lesson)
    expect(isinstance(body.get("progress"), dict),
           f"While the task was in state PROGRESS, the status URL answered {body}, with no "
           '"progress".', '"progress": {"current": ..., "total": ..., "percent": ...}',
           "In state PROGRESS, result.info is the meta the task stored.", lesson=lesson)
    pairs, percents = [], []
    for meta, body in answers:
        progress = body.get("progress") or {}
        missing = [k for k in ("current", "total", "percent") if k not in progress]
        expect(not missing, f'"progress" has no {" or ".join(missing)}: {progress}.',
               '"progress": {"current": ..., "total": ..., "percent": ...}', lesson=lesson)
        expect(progress["current"] == meta["current"] and progress["total"] == meta["total"],
               f"The task had reported current {meta['current']} of {meta['total']}, and the "
               f"status URL answered {progress}.", "the current and total the task reported",
               lesson=lesson)
        pairs.append((meta["current"], meta["total"]))
        percents.append(progress["percent"])
    for (current, of), value in zip(pairs, percents):
        exact = current * 100 / of
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.floor(exact) - 1e-9 <= value <= math.ceil(exact) + 1e-9)
        expect(ok, f"For {current} of {of} albums, percent was {value!r} (the reports gave "
               f"{', '.join(f'{c}/{t} → {p!r}' for (c, t), p in zip(pairs[:4], percents))}…).",
               f"{exact:.1f} as a number from 0 to 100 (rounded up, down or not at all)",
               _percent_hint(pairs, percents), lesson=lesson)
    client = run["client"]
    done = _json(client.get(reverse("tasks:status", args=[run["task_id"]])), "The status URL")
    expect(done.get("state") == "SUCCESS" and done.get("result") == total,
           f"Once the rebuild was over, the status URL answered {done}.",
           f'"state": "SUCCESS", "result": {total}', lesson=lesson)
    if isinstance(done.get("progress"), dict):
        expect(done["progress"].get("percent") == 100,
               f"Once the rebuild was over, the status URL answered {done}.",
               'no "progress" or "percent": 100 once it has succeeded', lesson=lesson)
    unknown = str(uuid.uuid4())
    try:
        response = client.get(reverse("tasks:status", args=[unknown]))
    except NoReverseMatch:
        fail('No URL is named "tasks:status".', "the status URL of exercise 03", lesson=lesson)
    except Exception as exc:
        fail(f"GET /tasks/{unknown}/ (an id no task has) raised {type(exc).__name__}: {exc}.",
             '"state": "PENDING" (Celery cannot tell "waiting" from "unknown")',
             "Read result.info only in state PROGRESS: in PENDING it is None.",
             lesson="#pending-waiting-or-unknown")
    body = _json(response, f"GET /tasks/{unknown}/")
    expect(response.status_code == 200 and body.get("state") == "PENDING",
           f"GET /tasks/{unknown}/ (an id no task has) answered {response.status_code}: {body}.",
           '200 and "state": "PENDING": Celery cannot tell an unknown id from a waiting task',
           lesson="#pending-waiting-or-unknown")


@needs(test_reports_progress)
def test_search_sees_old_index(project, run):
    """While the rebuild runs, the index stays whole: searches see the old one"""
    lesson = "#step-4-swap-the-index-in-one-go"
    kept, total = run["kept"], run["total"]
    for report in run["reports"]:
        current = report["meta"]["current"]
        if report["entries"] != kept or report["stale"] != kept:
            fail(f"The old index held {kept} entries. After {current} of {total} albums, the "
                 f"index held {report['entries']}, {report['stale']} of them old: a search "
                 "then finds a half-built index.",
                 f"the old {kept} entries until the new index is complete, then all {total} "
                 "new ones at once",
                 "Build the new entries first (in memory), then delete the old ones and save "
                 "the new ones inside one transaction.atomic().", lesson=lesson)
    from search.models import SearchEntry
    now = SearchEntry.objects.count()
    old = SearchEntry.objects.filter(text__contains=run["stale"]).count()
    expect(now == total and old == 0, f"Once the rebuild was over, the index held {now} "
           f"entries, {old} of them old.", f"{total} new entries, one per album", lesson=lesson)


def test_email_when_done(project, run):
    """When done, the address that asked gets "Search index rebuilt: N entries\""""
    _started(run)
    lesson = "#step-3-an-email-when-it-is-done"
    total, address, outbox = run["total"], run["address"], run["outbox"]
    early = [r for r in run["reports"] if r["emails"]]
    if early:
        fail(f"The email was sent while the rebuild ran (it was there at {early[0]['meta']}).",
             "the email once the rebuild is over",
             "Send it in the task, after rebuild_index() returns.", lesson=lesson)
    deadline = time.monotonic() + 3
    while True:  # the email may come from a task that runs after the rebuild
        sent = outbox.sent
        ours = [s for s in sent if address in s.message.to]
        if ours or time.monotonic() > deadline:
            break
        outbox.wait_for(len(sent) + 1, within=max(0.0, deadline - time.monotonic()))
    if ours:  # and a second one, if it comes
        sent = outbox.settle(quiet=0.1, within=1)
        ours = [s for s in sent if address in s.message.to]
    if not ours:
        others = sorted({a for s in sent for a in s.message.to})
        fail(f"The rebuild was asked for from {address} (the POST's \"email\" field, and the "
             "logged-in user's address), and no email went there"
             + (f"; emails went to {', '.join(others)}." if others else "; none was sent."),
             f'one email to {address}: "Search index rebuilt: {total} entries"',
             "Pass the address to the task (an argument, a JSON string) and send it there."
             if others else "Pass the address to the task and send_mail once it is done.",
             lesson=lesson)
    expect(len(ours) == 1, f"{len(ours)} emails went to {address}.", "one", lesson=lesson)
    subject = ours[0].message.subject.strip()
    expected = f"Search index rebuilt: {total} entries"
    expect(subject.rstrip(".").lower() == expected.lower(), f"The email's subject was {subject!r}.",
           f"{expected!r}, with the number of entries", lesson=lesson)
    expect(ours[0].from_worker, "The email was sent by the web process, not by the worker.",
           "the task to send it when the rebuild is over", lesson=lesson)


# -- the page -----------------------------------------------------------------------------------

def _labelled(html, script):
    """Whether the bar has a name a screen reader reads: <label for>, aria-label(ledby)."""
    bar = re.search(r"<progress\b[^>]*>|<[^>]*role=[\"']?progressbar[^>]*>", html)
    if not bar:
        return re.search(r"aria-label|<label|\.labels?\b|title", script)
    tag = bar.group(0)
    ident = re.search(r"""\bid=["']?([^"' >]+)""", tag)
    label_for = ident and rf"""<label\b[^>]*for=["']?{re.escape(ident.group(1))}"""
    return (re.search(r"aria-label(?:ledby)?=|title=", tag)
            or (label_for and re.search(label_for, html))
            or re.search(r"<label\b(?:(?!</label>).)*<progress", html, re.S))


def test_page_shows_a_progress_bar(project, client, empty_db):
    """The rebuild page shows a labelled progress bar that follows the status URL and stops"""
    html, script, names = page_scripts(client, "/search/rebuild/")
    lesson = "#step-5-a-progress-bar-on-the-page"
    where = ", ".join(f"static/{name}" for name in names) or "its inline script"
    looked = (f"(This check reads the page and the script it loads, {where}; it does not run "
              "it.)")
    text = no_comments(script)
    code = code_only(script)
    has_bar = re.search(r"<progress\b|role=[\"']?progressbar", html) or re.search(
        r"""createElement\(\s*["']progress["']|<progress\b|progressbar""", text)
    expect(has_bar, f"The rebuild page has no progress bar. {looked}",
           '<progress max="100"> (or an element with role="progressbar") that the script fills',
           lesson=lesson)
    expect(_labelled(html, text), f"The progress bar has no label a screen reader can read. "
           f"{looked}", '<label for="the-bar-id">Rebuild progress</label>, or aria-label',
           lesson=lesson)
    reads = re.search(r"""\.\s*(?:progress|percent)\b|\[\s*["'](?:progress|percent)["']\s*\]""",
                      no_comments(script))
    expect(reads, f"The page's script never reads \"progress\" or \"percent\" from the status "
           f"answer. {looked}", "the bar's value set from answer.progress.percent",
           lesson=lesson)
    waits_on_names = waits_on(text, ("PENDING",), ("STARTED", "PROGRESS"))
    expect("REVOKED" in text or waits_on_names,
           f"The page's script never mentions REVOKED, so a revoked rebuild keeps it polling "
           f"for ever. {looked}", "polling that stops on SUCCESS, FAILURE and REVOKED",
           lesson=lesson)
    bounded = (re.search(r"[\w\])]\s*(?:<=?|>=?)\s*[\w(.-]", code.replace("=>", "  "))
               or re.search(r"\b(?:clearTimeout|clearInterval|AbortSignal\.timeout)\s*\(", code))
    expect(bounded, f"The page's script has no time limit and no count of its polls, so the "
           f"bar can poll for ever. {looked}",
           "polling that gives up after a bounded time, with a friendly message",
           "Keep a deadline (Date.now() + ...) or count the polls, and stop past it.",
           lesson=lesson)

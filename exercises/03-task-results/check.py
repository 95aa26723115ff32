"""Exercise 03 · Task results and a status endpoint."""

import json
import re
import sys
import threading
import time
from contextlib import contextmanager
from types import ModuleType
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from grader.harness import expect, fail, guard, needs, timed
from grader.harness.page import code_only, names_state, no_comments, page_scripts, waits_on
from grader.harness.published import registered_name

PER_ALBUM = 0.25  # seconds SEARCH_INDEX_DELAY makes each album take
FAST = 0.5  # seconds a view may take to answer
TASK = "search.tasks.rebuild_search_index"
FINISHED = ("SUCCESS", "FAILURE", "REVOKED")  # celery.states.READY_STATES
started = {}  # what the POST to /search/rebuild/ answered, for the checks that follow it


@pytest.fixture(scope="module")
def slow_index():
    """Each album takes PER_ALBUM seconds to index, from the POST until the status check."""
    with override_settings(SEARCH_INDEX_DELAY=PER_ALBUM):
        yield


class Done:
    """Task ids the worker is completely done with: after task_postrun or task_revoked.

    Connected after the project's own receivers, so theirs (a lock released in task_postrun,
    say) have run by the time an id shows up here: no race with the next POST.
    """

    def __init__(self):
        self.ids = set()
        self._changed = threading.Condition()

    def _add(self, task_id=None, request=None, **_):
        with self._changed:
            self.ids.add(task_id or getattr(request, "id", None))
            self._changed.notify_all()

    def wait(self, task_id, within):
        with self._changed:
            return self._changed.wait_for(lambda: task_id in self.ids, within)


@pytest.fixture(scope="module")
def done():
    from celery.signals import task_postrun, task_revoked

    recorder = Done()
    task_postrun.connect(recorder._add, weak=False)
    task_revoked.connect(recorder._add, weak=False)
    yield recorder
    task_postrun.disconnect(recorder._add)
    task_revoked.disconnect(recorder._add)


def _albums(fake, count):
    from music.models import Album, Artist

    artist = Artist.objects.create(name=fake.name(), email=fake.email())
    for _ in range(count):
        Album.objects.create(artist=artist, title=fake.title())


def _json(response, what):
    try:
        return json.loads(response.content)
    except ValueError:
        fail(f"{what} answered {response.status_code} with {response['Content-Type']}, "
             "not JSON.", "a JSON answer (JsonResponse)")


def _task(project):
    return project.task(TASK, exercise="03",
                        expected="@shared_task def rebuild_search_index() in search/tasks.py",
                        lesson="#step-1-a-task-that-returns-a-value")


def _post(client, what="POST /search/rebuild/"):
    """POST a rebuild; return the id it answered."""
    response = client.post("/search/rebuild/")
    expect(response.status_code == 202, f"{what} answered {response.status_code}.",
           "202 Accepted with the task's id", lesson="#step-2-answer-202-with-the-task-id")
    body = _json(response, what)
    expect("task_id" in body, f"{what} answered {body}, with no task_id.",
           '{"task_id": ..., "status_url": ...}', lesson="#step-2-answer-202-with-the-task-id")
    return body["task_id"]


def _finish(done, task_id, count, what):
    """Wait until the worker is done with ``task_id`` (it rebuilds ``count`` albums)."""
    within = count * PER_ALBUM + 10
    if not done.wait(task_id, within):
        fail(f"{what} ({task_id}) had not finished {within:.0f} s later.",
             f"the worker to finish it in about {count * PER_ALBUM:.1f} s",
             "Is the id your view answers the id of the task it started?", timing=True)


class Hold:
    """Holds the worker's rebuild twice: before it begins (task_prerun), then inside it, as it
    is about to write its first entry (pre_save of SearchEntry). Each wait ends after 15 s.

    Every POST then lands at a known point of the rebuild, however busy the machine.
    """

    def __init__(self):
        self.start, self.inside, self.go_on = (threading.Event() for _ in range(3))

    def _before(self, sender=None, **_):
        if getattr(sender, "name", None) == registered_name(TASK):
            self.start.wait(15)

    def _saving(self, **_):
        if threading.current_thread() is not threading.main_thread() and not self.inside.is_set():
            self.inside.set()
            self.go_on.wait(15)

    def let_it_begin(self, within=5):
        """Let the rebuild begin; True once it writes its first entry (within ``within`` s)."""
        self.start.set()
        return self.inside.wait(within)


@contextmanager
def _held():
    from celery.signals import task_prerun
    from django.db.models.signals import pre_save

    from search.models import SearchEntry

    hold = Hold()
    task_prerun.connect(hold._before, weak=False)
    pre_save.connect(hold._saving, sender=SearchEntry, weak=False)
    try:
        yield hold
    finally:
        hold.start.set()
        hold.go_on.set()
        task_prerun.disconnect(hold._before)
        pre_save.disconnect(hold._saving, sender=SearchEntry)


def _keys_holding(url, task_id):
    """(db, key, seconds to live) of each Redis string that holds ``task_id``, besides Celery's
    own result, in the databases of the broker's server that the project names (REDIS_URL,
    CACHES): where a lock in Redis keeps the running rebuild's id."""
    import redis
    from django.conf import settings

    if not url.startswith(("redis://", "rediss://")):
        return []
    named = [url, str(getattr(settings, "REDIS_URL", ""))]
    for cache in settings.CACHES.values():
        location = cache.get("LOCATION", "")
        named += [location] if isinstance(location, str) else list(location)
    server = urlsplit(url).netloc.rpartition("@")[2]
    found = []
    for db_url in dict.fromkeys(n for n in named if urlsplit(n).netloc.endswith(server)):
        db = redis.Redis.from_url(db_url)
        for key in db.scan_iter(count=1000):
            if (not key.startswith(b"celery-task-meta-") and db.type(key) == b"string"
                    and task_id.encode() in (db.get(key) or b"")):
                found.append((urlsplit(db_url).path or "/0", key.decode(errors="replace"),
                              db.ttl(key)))
    return found


# Seconds a lock must still have to live when a rebuild has just started: a minute, at least.
LOCK_AT_LEAST = 55


def _holds(value, task_id, depth=2) -> bool:
    """Whether ``value`` is ``task_id``, an AsyncResult of it, or holds one (a dict, a list...)."""
    if value == task_id or getattr(value, "id", None) == task_id:
        return True
    if depth <= 0 or isinstance(value, (str, bytes, ModuleType)) or callable(value):
        return False  # modules, functions, classes and tasks: not where a lock lives
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = list(getattr(value, "__dict__", {}).values())
    return any(_holds(item, task_id, depth - 1) for item in items[:1000])


def _module_variables_holding(project, task_id):
    """Module-level variables of the project's own modules that hold ``task_id``: where a lock
    kept in a process's memory keeps the running rebuild's id ("search.tasks._running")."""
    root = str(project.path)
    found = []
    for name, module in list(sys.modules.items()):
        if not str(getattr(module, "__file__", "") or "").startswith(root):
            continue
        for variable, value in list(vars(module).items()):
            if not variable.startswith("__") and _holds(value, task_id):
                found.append(f"{name}.{variable}")
    return found


@contextmanager
def _another_web_process():
    """Hide what this process keeps in memory caches, as a second web process would see it.

    Django's default cache (LocMemCache) lives in each process's memory: a lock there stops a
    second click only when the same process serves it.
    """
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    hidden = []
    for alias in settings.CACHES:
        cache = caches[alias]
        if isinstance(cache, LocMemCache):
            hidden.append((cache, cache._cache, cache._expire_info))
            cache._cache, cache._expire_info = type(cache._cache)(), {}
    try:
        yield bool(hidden)
    finally:
        for cache, data, expiry in hidden:
            cache._cache, cache._expire_info = data, expiry


@guard
def test_rebuild_page_still_works(project, client, empty_db, fake):
    """GET /search/rebuild/ still shows the page with its button"""
    _albums(fake, fake.count(1, 3))
    response = client.get("/search/rebuild/")
    expect(response.status_code == 200, f"GET /search/rebuild/ answered {response.status_code}.",
           "200 and the page with its button: only a POST starts a rebuild",
           "Keep the GET branch of rebuild() rendering search/rebuild.html.",
           lesson="#step-2-answer-202-with-the-task-id")
    html = response.content.decode()
    expect(re.search(r"<form\b", html) and re.search(r"<button\b|type=[\"']?submit", html),
           "The page GET /search/rebuild/ has no form with a button.",
           "the form with its button, that the page's script sends",
           lesson="#the-page-asks-how-it-goes")


def test_task_returns_count(project, celery_app, worker, empty_db, fake):
    """search.tasks.rebuild_search_index runs on the worker and returns the entry count"""
    from search.models import SearchEntry

    task = _task(project)
    expect(not task.ignore_result,
           "rebuild_search_index ignores its result (ignore_result=True on the task, or "
           "CELERY_TASK_IGNORE_RESULT in the settings): the worker stores nothing, so its "
           "state reads PENDING for ever and its count never reaches the page.",
           "a task whose result is stored, because the page asks for it",
           "ignore_result=True suits fire-and-forget tasks (the feedback email), not this one.",
           lesson="#step-1-a-task-that-returns-a-value")
    count = fake.count(2, 6)
    _albums(fake, count)
    result = task.delay()
    try:
        value = result.get(timeout=10)
    except Exception as exc:
        fail(f"The task did not succeed within 10 s ({type(exc).__name__}: {exc}).",
             "the worker to rebuild the index and return", lesson="#step-1-a-task-that-returns-a-value")
    expect(value == count, f"With {count} albums, the task returned {value!r}.",
           f"{count}, the number of entries: return rebuild_index()",
           "A task's return value is what the result backend stores.",
           lesson="#step-1-a-task-that-returns-a-value")
    entries = SearchEntry.objects.count()
    expect(entries == count, f"The index holds {entries} entries.", f"{count}, one per album")


@timed
def test_post_answers_202(project, celery_app, worker, client, slow_index, empty_db, published,
                          fake):
    """POST /search/rebuild/ answers 202 at once, with task_id and status_url"""
    from celery.result import AsyncResult

    from search.models import SearchEntry

    count = fake.count(4, 6)
    _albums(fake, count)
    began = time.monotonic()
    response = client.post("/search/rebuild/")
    took = time.monotonic() - began
    sent = published.of(TASK)
    # Whatever the machine's load, these tell apart the two ways of keeping the visitor
    # waiting: no task message and a full index, or a task already finished at the answer.
    if not sent and SearchEntry.objects.count() == count:
        fail(f"POST /search/rebuild/ took {took:.1f} s for {count} albums, published no task "
             "and the index was already rebuilt when the answer came: the view still rebuilds "
             "the index while the visitor waits.",
             f"an answer in under {FAST} s, with a worker doing the rebuild",
             "Call rebuild_search_index.delay() in the view and answer at once.",
             lesson="#step-2-answer-202-with-the-task-id")
    if sent and AsyncResult(sent[0].id).ready():
        fail(f"POST /search/rebuild/ took {took:.1f} s: the view published the task, then "
             f"waited for its result (the task had finished, state "
             f"{AsyncResult(sent[0].id).state}, before the answer came).",
             f"an answer in under {FAST} s, while the worker still rebuilds",
             "Never call .get() (or .wait()) in a view: answer with result.id at once.",
             lesson="#step-3-a-status-endpoint")
    expect(took < FAST, f"POST /search/rebuild/ took {took:.1f} s for {count} albums.",
           f"an answer in under {FAST} s, with a worker doing the rebuild",
           "Call rebuild_search_index.delay() in the view and answer at once.",
           lesson="#step-2-answer-202-with-the-task-id", timing=True)
    expect(response.status_code == 202, f"The answer's status is {response.status_code}.",
           "202 Accepted: the work has started, and is not finished",
           "JsonResponse({...}, status=202)", lesson="#step-2-answer-202-with-the-task-id")
    body = _json(response, "POST /search/rebuild/")
    missing = [key for key in ("task_id", "status_url") if key not in body]
    expect(not missing, f"The JSON has no {' or '.join(missing)}: {body}.",
           '{"task_id": ..., "status_url": ...}', lesson="#step-2-answer-202-with-the-task-id")
    started.update(body, count=count)


@needs(test_post_answers_202)
@timed
def test_status_endpoint(project, client, slow_index, done):
    """GET /tasks/<task_id>/ reports the state, then SUCCESS with the entry count"""
    task_id, count = started["task_id"], started["count"]
    try:
        url = reverse("tasks:status", args=[task_id])
    except NoReverseMatch:
        fail('No URL is named "tasks:status".',
             'path("tasks/<str:task_id>/", ..., name="status") included with namespace "tasks"',
             lesson="#step-3-a-status-endpoint")
    expect(urlsplit(started["status_url"]).path == url,
           f"status_url is {started['status_url']!r}.", f"the task's status URL, {url}",
           lesson="#step-2-answer-202-with-the-task-id")
    within = count * PER_ALBUM + 10
    deadline = time.monotonic() + within
    states = []
    while True:
        began = time.monotonic()
        response = client.get(url)
        took = time.monotonic() - began
        expect(took < FAST, f"GET {url} took {took:.1f} s: it waited for the task.",
               "an answer at once, whatever the state", "Read result.state; never call "
               ".get() in a view.", lesson="#step-3-a-status-endpoint", timing=True)
        body = _json(response, f"GET {url}")
        missing = [key for key in ("task_id", "state", "result") if key not in body]
        expect(not missing, f"The status JSON has no {', '.join(missing)}: {body}.",
               '{"task_id": ..., "state": ..., "result": ...}', lesson="#step-3-a-status-endpoint")
        states.append(body["state"])
        if body["state"] in FINISHED or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # Any state may come first (PENDING, STARTED, a custom PROGRESS...): which one depends on
    # when the first GET lands, so the verdict rests only on where the states end.
    seen = " → ".join(dict.fromkeys(states))
    if body["state"] not in FINISHED:
        fail(f"The states went {seen}, and the task had not finished {within:.0f} s later.",
             "the state to reach SUCCESS", "Is the worker consuming? Is the id in the answer "
             "the id of the task the view started?", lesson="#step-3-a-status-endpoint",
             timing=True)
    expect(body["state"] == "SUCCESS", f"The states went {seen}: {body}.",
           "the state to reach SUCCESS", lesson="#step-3-a-status-endpoint")
    expect(body["task_id"] == task_id and body["result"] == count,
           f"The final answer was {body}.", f"task_id {task_id} and result {count}",
           lesson="#step-3-a-status-endpoint")
    done.wait(task_id, 5)


@needs(test_status_endpoint)
def test_one_rebuild_at_a_time(project, broker, client, settings, empty_db, published, done,
                               fake):
    """While a rebuild runs, a POST answers its id; once it is over, a POST starts a new one"""
    settings(SEARCH_INDEX_DELAY=0)
    count = fake.count(2, 5)
    _albums(fake, count)
    lesson = "#step-5-one-rebuild-at-a-time"
    with _held() as hold:
        first = _post(client, "The first POST /search/rebuild/")
        second = _post(client, "A second POST, while the first rebuild waits for the worker,")
        _judge_second_post(client, published, first, second, lesson)
        in_redis = _keys_holding(broker.url, first)
        in_memory = _module_variables_holding(project, first)
        if in_memory and not in_redis:
            fail(f"The running rebuild's id is kept in {', '.join(in_memory)}, a variable of "
                 "this web process. In production several web processes (gunicorn's workers) "
                 "answer requests, each with its own variables: a POST another process serves "
                 "does not see it and starts a second rebuild.",
                 "a lock every web process and every worker sees",
                 "Keep the lock in Redis (redis-py's SET with nx=True and ex=seconds, or a "
                 "CACHES backend on Redis), not in a process's memory.", lesson=lesson)
        # A lock found in Redis must expire: a worker that dies never releases it.
        for db, key, ttl in in_redis:
            expect(ttl >= 0, f"The lock that holds the running rebuild's id ({key!r} in "
                   f"Redis database {db.strip('/') or 0}) has no expiry: if a worker dies "
                   "mid-rebuild, nothing ever deletes it, and no rebuild can start again.",
                   "a lock that expires a while after the longest rebuild",
                   "SET with nx=True and ex=seconds, or cache.add(key, id, timeout=seconds).",
                   lesson=lesson)
            expect(ttl < 0 or ttl >= LOCK_AT_LEAST,
                   f"The lock that holds the running rebuild's id ({key!r} in Redis database "
                   f"{db.strip('/') or 0}) expires after {ttl} s: a rebuild of a few hundred "
                   "albums (0.5 s each) takes minutes, and once the key has expired, the next "
                   "POST starts a second rebuild beside the first.",
                   "a lock that expires a while after the longest rebuild (minutes, not "
                   "seconds)", "Give the key the rebuild's time limit plus a margin: "
                   "time_limit=10 * 60 on the task, and ex=11 * 60 on the key.", lesson=lesson)
        if hold.let_it_begin():
            midway = _post(client, "A POST while the rebuild writes its entries")
            expect(midway == first and len(published.of(TASK)) == 1,
                   f"While the rebuild {first} was writing its entries, a POST answered "
                   f"{midway} and started another rebuild: the lock was released (or taken) "
                   "when the task began, not when it ended.",
                   "the running rebuild's id until it is over",
                   "Take the lock in the view, before .delay(); release it when the task "
                   "ends (a try/finally around the whole rebuild).", lesson=lesson)
    _finish(done, first, count, "The rebuild")
    fourth = _post(client, "A POST after the rebuild had finished")
    if fourth == first:
        fail(f"After the rebuild {first} had finished, a new POST answered its id again and "
             "started nothing: the lock is never released.",
             "a new rebuild, with a new id, once the running one is over",
             "Release the lock when the task ends, success or not (a try/finally in the "
             "task), and give it an expiry for a worker that dies.", lesson=lesson)
    expect(len(published.of(TASK)) == 2, f"A POST after the rebuild had finished answered a "
           f"new id ({fourth}) but published no new task.", "a new rebuild task", lesson=lesson)
    _finish(done, fourth, count, "The second rebuild")


def _judge_second_post(client, published, first, second, lesson):
    """Judge the second POST, then POST again as another web process would, the rebuild held."""
    sent = published.of(TASK)
    if len(sent) > 1:
        fail(f"Two POSTs in a row started {len(sent)} rebuilds ({first} and {second}); "
             "overlapping rebuilds write the same entries twice (IntegrityError: UNIQUE "
             "constraint failed).",
             "the second POST to answer the running rebuild's id and start nothing",
             "Take a lock that holds the running task's id (a Redis key set with NX and an "
             "expiry) before starting the task.", lesson=lesson)
    expect(second == first, f"The second POST answered {second}, not the running rebuild's "
           f"id {first}.", f"the running rebuild's id, {first}", lesson=lesson)
    with _another_web_process() as memory:
        third = _post(client, "A POST served by another web process")
    if published.of(TASK)[1:] or third != first:
        fail("A POST served by another web process (one that cannot see this process's "
             f"memory) started another rebuild ({third}) while {first} ran"
             + (": the lock lives in Django's local-memory cache, one per process"
                if memory else "") + ".",
             "a lock every web process and every worker sees",
             "Keep the lock in Redis (redis-py's SET with nx=True, or a CACHES backend on "
             "Redis), not in a process's memory.", lesson=lesson)


@needs(test_one_rebuild_at_a_time)
def test_revoked_rebuild(project, client, settings, empty_db, published, done, fake):
    """A revoked rebuild reads REVOKED, and a POST after it starts a new one"""
    from celery.signals import before_task_publish
    from celery.worker import state

    settings(SEARCH_INDEX_DELAY=0)
    _albums(fake, fake.count(1, 3))
    lesson = "#step-5-one-rebuild-at-a-time"
    revoked = []

    def revoke(headers=None, **_):
        # What `celery control revoke <id>` does on a worker, done in its memory before the
        # message leaves: the worker then never runs the task, whatever the timing.
        if (headers or {}).get("task") == registered_name(TASK) and not revoked:
            revoked.append(headers["id"])
            state.revoked.add(headers["id"])

    before_task_publish.connect(revoke, weak=False)
    try:
        task_id = _post(client)
    finally:
        before_task_publish.disconnect(revoke)
    expect(revoked == [task_id], f"The view published {revoked} but answered {task_id}.",
           "the id of the task it started", lesson="#step-2-answer-202-with-the-task-id")
    if not done.wait(task_id, 10):
        fail(f"The worker did not revoke {task_id} within 10 s.", "REVOKED", timing=True)
    url = reverse("tasks:status", args=[task_id])
    try:
        response = client.get(url)
    except Exception as exc:
        fail(f"GET {url} for a revoked task raised {type(exc).__name__}: {exc}.",
             'an answer with "state": "REVOKED"',
             "A revoked task's result is an exception, as a failed one's is: send "
             "result.result only when result.successful().", lesson="#task-states")
    body = _json(response, f"GET {url}")
    expect(body.get("state") == "REVOKED", f"For a revoked task, GET {url} answered {body}.",
           '"state": "REVOKED", a finished state', lesson="#task-states")
    again = _post(client, "A POST after the rebuild was revoked")
    if again == task_id:
        fail(f"After the rebuild {task_id} was revoked, a new POST answered its id again and "
             "started nothing: the lock is released only by the task's own code, which a task "
             "revoked before it starts never runs.",
             "a new rebuild once the running one is revoked",
             "Release the lock in a task_revoked receiver too (or treat a lock whose task "
             "has finished, AsyncResult(id).ready(), as free).", lesson=lesson)
    _finish(done, again, 3, "The rebuild after the revoked one")


@needs(test_status_endpoint)
def test_failure_shows_message_not_traceback(project, client, settings, empty_db, fake):
    """A failed task's status shows the error message, never a traceback"""
    _albums(fake, 1)
    settings(SEARCH_INDEX_DELAY=-1)  # time.sleep(-1) raises inside the real task
    result = _task(project).delay()
    try:
        result.get(timeout=10, propagate=False)
    except Exception:
        pass
    response = client.get(reverse("tasks:status", args=[result.id]))
    body = _json(response, "the status endpoint")
    text = response.content.decode()
    expect(body.get("state") == "FAILURE", f"For a task that raised, the state was "
           f"{body.get('state')!r}.", "FAILURE", lesson="#step-4-when-a-task-fails")
    expect("Traceback" not in text and 'File "' not in text,
           "The answer contains a Python traceback, which shows visitors the inside of your "
           "code.", 'only the message: "error": str(result.result)',
           lesson="#step-4-when-a-task-fails")
    expect("non-negative" in str(body.get("error", "")),
           f"The answer has no \"error\" with the exception's message: {body}.",
           '"error": "sleep length must be non-negative" (str(result.result))',
           lesson="#step-4-when-a-task-fails")


def _status_flags(client) -> list[str]:
    """The true/false fields of the status JSON ("ready": result.ready(), say), if any."""
    try:
        body = json.loads(client.get(reverse("tasks:status", args=["encore-probe"])).content)
    except Exception:  # no status URL, or no JSON: the other checks say so
        return []
    return [key for key, value in body.items() if isinstance(value, bool)] \
        if isinstance(body, dict) else []


def test_page_stops_polling(project, client, empty_db):
    """The page's script stops polling on every finished state and after a bounded time"""
    _, script, names = page_scripts(client, "/search/rebuild/")
    script = no_comments(script)
    where = ", ".join(f"static/{name}" for name in names) or "its inline script"
    looked = (f"(This check reads the text of the script the page loads, {where}; it does not "
              "run it.)")
    expect(script.strip(), "The rebuild page loads no script that polls the status URL.",
           "static/rebuild.js, loaded by search/rebuild.html",
           lesson="#the-page-asks-how-it-goes")
    # Either it names every finished state, or it names the waiting states as the only ones
    # to poll again on (["PENDING", "STARTED"], state !== "PENDING" && ..., state === "PENDING"
    # || state === "STARTED", a switch's cases, state in WAITING) and stops on anything else,
    # or it reads a true/false field of the status JSON ("ready": result.ready()).
    waits_on_names = waits_on(script, ("PENDING",), ("STARTED",))
    named = [state for state in FINISHED if names_state(script, state)]
    missing = [state for state in FINISHED if state not in named]
    flags = _status_flags(client)
    reads_flag = any(re.search(rf"""\.{flag}\b|\[\s*["']{flag}["']\s*\]""", script)
                     for flag in flags)
    what = {"FAILURE": "a failed rebuild", "SUCCESS": "a finished rebuild",
            "REVOKED": "a revoked rebuild (lesson 08's Revoke button)"}
    expect(not missing or waits_on_names or reads_flag,
           f"The page's script never mentions {' or '.join(missing)}, so "
           f"{' or '.join(what[state] for state in missing)} keeps it polling until it gives up. "
           f"{looked}",
           "polling that stops on SUCCESS, FAILURE and REVOKED",
           lesson="#the-page-asks-how-it-goes")
    code = code_only(script)
    # A bound is a comparison (Date.now() > deadline, tries < 600) or a timer that is
    # cancelled (clearTimeout, AbortSignal.timeout): an endless poll has none of them.
    bounded = (re.search(r"[\w\])]\s*(?:<=?|>=?)\s*[\w(.-]", code.replace("=>", "  "))
               or re.search(r"\b(?:clearTimeout|clearInterval|AbortSignal\.timeout)\s*\(", code))
    expect(bounded, f"The page's script has no time limit and no count of its polls, so it can "
           f"ask for ever. {looked}",
           "polling that gives up after a bounded time, with a friendly message",
           "Keep a deadline (Date.now() + ...) or count the polls, and stop past it.",
           lesson="#the-page-asks-how-it-goes")

"""Exercise 03 · Task results and a status endpoint."""

import json
import time
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from grader.harness import expect, fail, needs, timed

PER_ALBUM = 0.25  # seconds SEARCH_INDEX_DELAY makes each album take
FAST = 0.5  # seconds a view may take to answer
started = {}  # what the POST to /search/rebuild/ answered, for the checks that follow it


@pytest.fixture(scope="module")
def slow_index():
    """Each album takes PER_ALBUM seconds to index, from the POST until the status check."""
    with override_settings(SEARCH_INDEX_DELAY=PER_ALBUM):
        yield


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
    return project.task("search.tasks.rebuild_search_index", exercise="03",
                        expected="@shared_task def rebuild_search_index() in search/tasks.py",
                        lesson="#step-1-a-task-that-returns-a-value")


def test_task_returns_count(project, celery_app, worker, empty_db, fake):
    """search.tasks.rebuild_search_index runs on the worker and returns the entry count"""
    from search.models import SearchEntry

    count = fake.count(2, 6)
    _albums(fake, count)
    result = _task(project).delay()
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
    from search.models import SearchEntry

    count = fake.count(4, 6)
    _albums(fake, count)
    began = time.monotonic()
    response = client.post("/search/rebuild/")
    took = time.monotonic() - began
    # Whatever the machine's load: a full index and no task message mean the view rebuilt it.
    if not published.messages and SearchEntry.objects.count() == count:
        fail(f"POST /search/rebuild/ took {took:.1f} s for {count} albums, published no task "
             "and the index was already rebuilt when the answer came: the view still rebuilds "
             "the index while the visitor waits.",
             f"an answer in under {FAST} s, with a worker doing the rebuild",
             "Call rebuild_search_index.delay() in the view and answer at once.",
             lesson="#step-2-answer-202-with-the-task-id")
    expect(took < FAST, f"POST /search/rebuild/ took {took:.1f} s for {count} albums: the view "
           "still rebuilds the index while the visitor waits.",
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
def test_status_endpoint(project, client, slow_index):
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
    deadline = time.monotonic() + count * PER_ALBUM + 10
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
        if body["state"] in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    expect(states[0] in ("PENDING", "STARTED", "RECEIVED"),
           f"The first answer, right after the POST, said {states[0]}.",
           "PENDING or STARTED while the rebuild is still running")
    expect(states[-1] == "SUCCESS", f"The states went {' → '.join(dict.fromkeys(states))}.",
           "the state to reach SUCCESS", lesson="#step-3-a-status-endpoint")
    expect(body["task_id"] == task_id and body["result"] == count,
           f"The final answer was {body}.", f"task_id {task_id} and result {count}",
           lesson="#step-3-a-status-endpoint")


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

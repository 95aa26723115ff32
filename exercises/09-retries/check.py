"""Exercise 09 · Retry the playlist API, with backoff and jitter.

The checker's playlist API answers each playlist by script (503, 503, 200; always a 5xx; 404; a
hang longer than the client's timeout; a dropped connection) and counts the questions. The
task's retries go through the real broker and the real worker, but never wait: each call of the
task's ``retry()`` is recorded with the countdown the project asked for, and then sent with no
countdown at all. Jitter is random, so that growth can be judged on every run, Python's shared
random generator is held at the top of its range while the scripts run (full jitter then waits
its whole countdown), and at the bottom for one more retry that shows whether jitter is there.
"""

from __future__ import annotations

import inspect
import random
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from celery.signals import task_failure, task_postrun, task_prerun

from grader.harness import expect, fail, needs
from grader.harness.playlist_api import DROP, HANG, PlaylistAPI

TASK = "music.tasks.fetch_spotify_genres"
RETRIES = 5
TIMEOUT = 0.5  # SPOTIFY_API_TIMEOUT during the checks
HANG_FOR = 4.0  # a hanging question is answered after this long, if the client still waits
WAIT = 6.0  # seconds all the scripts together may take before the check stops waiting
ENDLESS = 8  # attempts after which retries are no longer hurried: the task never gives up
JITTER = 0.05  # seconds: less difference than this between the two ends is no jitter


def _task(project):
    return project.task(TASK, exercise="04", lesson="04-serializable-args.md",
                        expected="@shared_task def fetch_spotify_genres(artist_id) in "
                        "music/tasks.py (exercise 04)")


@dataclass
class Script:
    steps: tuple
    url: str
    artist: object  # the Artist as created
    task_id: str = ""
    asked: int = 0  # questions the API received about this playlist
    attempts: int = 0  # times the worker ran the task
    countdowns: list = field(default_factory=list)  # asked for at each retry() call
    states: list = field(default_factory=list)  # each attempt's end: RETRY, SUCCESS, FAILURE
    error: BaseException | None = None  # the exception the task failed with, if it did
    took: float = 0.0

    @property
    def state(self) -> str:
        return self.states[-1] if self.states else "never ran"

    @property
    def retries(self) -> list[float]:
        """The countdowns of the retries that happened (the last call may have given up)."""
        return self.countdowns[:max(0, self.attempts - 1)]

    def why(self) -> str:
        if self.error is None:
            return ""
        text = str(self.error).split(" for url:")[0]  # requests names the whole URL
        return f"{type(self.error).__name__}: {text[:160]}"


class Watch:
    """Records each attempt of the task, and hurries its retries along without their wait."""

    def __init__(self, task):
        self.task = task
        self.scripts: dict[str, Script] = {}  # by task id
        self._changed = threading.Condition()
        self._own = "retry" in vars(task)
        self._retry = task.retry
        self._signature = inspect.signature(self._retry)

    def _spy(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        countdown, eta = bound.arguments.get("countdown"), bound.arguments.get("eta")
        if countdown is None and eta is not None:
            now = datetime.now(timezone.utc)  # a naive eta is UTC, as Celery reads it
            countdown = (eta - (now if eta.tzinfo else now.replace(tzinfo=None))).total_seconds()
        elif countdown is None:
            countdown = self.task.default_retry_delay
        script = self.scripts.get(self.task.request.id)
        if script is not None:
            with self._changed:
                script.countdowns.append(float(countdown))
            if self.task.request.retries + 1 < ENDLESS:
                bound.arguments["countdown"], bound.arguments["eta"] = 0, None
        return self._retry(*bound.args, **bound.kwargs)

    def _started(self, task_id=None, **_):
        script = self.scripts.get(task_id)
        if script is not None:
            with self._changed:
                script.attempts += 1

    def _ended(self, task_id=None, state=None, **_):
        script = self.scripts.get(task_id)
        if script is not None:
            with self._changed:
                script.states.append(state or "?")
                self._changed.notify_all()

    def _failed(self, task_id=None, exception=None, **_):
        script = self.scripts.get(task_id)
        if script is not None:
            script.error = exception

    def __enter__(self) -> "Watch":
        self.task.retry = self._spy
        task_prerun.connect(self._started, weak=False)
        task_postrun.connect(self._ended, weak=False)
        task_failure.connect(self._failed, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        task_prerun.disconnect(self._started)
        task_postrun.disconnect(self._ended)
        task_failure.disconnect(self._failed)
        if self._own:
            self.task.retry = self._retry
        else:
            del self.task.retry

    def settled(self, script: Script) -> bool:
        return (script.state not in ("RETRY", "never ran", "STARTED")
                or script.attempts >= ENDLESS)

    def run(self, project, api, fake, scripts: dict[str, tuple], top: bool) -> dict[str, Script]:
        """Register one artist per script, enqueue the task for each, wait until all settle."""
        from music.models import Artist

        made = {}
        for name, steps in scripts.items():
            url = api.scripted(*steps)
            artist = Artist.objects.create(name=fake.name(), email=fake.email(),
                                           spotify_playlist_url=url)
            made[name] = Script(steps, url, artist)
        task = _task(project)
        began = time.monotonic()
        with _random_held(top):
            for script in made.values():
                # Known before the message leaves: the worker may start on it at once.
                script.task_id = str(uuid.uuid4())
                with self._changed:
                    self.scripts[script.task_id] = script
                task.apply_async(args=(script.artist.pk,), task_id=script.task_id)
            with self._changed:
                self._changed.wait_for(lambda: all(map(self.settled, made.values())),
                                       timeout=WAIT)
        for script in made.values():
            script.asked = len(api.asked_about(script.url))
            script.took = time.monotonic() - began
        return made


@contextmanager
def _random_held(top: bool):
    """Hold Python's shared random generator at the top (or bottom) of every range.

    ``random.random()`` and ``random.uniform(a, b)`` give (nearly) their largest value and
    ``random.randrange(n)``/``randint`` the largest integer, or the smallest ones; Celery's own
    jitter is ``random.randrange``.
    """
    shared = random._inst
    value = 0.999 if top else 0.001
    saved = random.random
    shared.random = lambda: value
    shared._randbelow = (lambda n: n - 1) if top else (lambda n: 0)
    random.random = shared.random
    try:
        yield
    finally:
        random.random = saved
        del shared.random, shared._randbelow


observed: dict[str, Script] = {}


@pytest.fixture(scope="module")
def api(project, seed):
    from django.test import override_settings

    with PlaylistAPI(seed, delay=0, hang_for=HANG_FOR) as api, override_settings(
            SPOTIFY_API_URL=api.url, SPOTIFY_API_TIMEOUT=TIMEOUT):
        yield api


@pytest.fixture(scope="module")
def watch(project, celery_app, worker):
    task = celery_app.tasks.get(TASK) or _task(project)
    with Watch(task) as watching:
        yield watching


@pytest.fixture(scope="module")
def runs(project, api, watch, fake):
    """Every script but the jitter probe, at once, with the random generator at its top."""
    _task(project)
    # Not 503, which the flaky script answers: "retry a 503 only" must fail on every seed.
    server_error = fake.random.choice((500, 502, 504))
    observed.update(watch.run(project, api, fake, {
        "flaky": (503, 503, 200),
        "down": (server_error,),
        "missing": (404,),
        "hang": (HANG, 200),
        "drop": (DROP, 200),
    }, top=True))
    return observed


def _looped(script: Script) -> str:
    return (f"The API was asked {script.asked} times in {script.attempts} run(s) of the task: "
            "the task asks again itself (a loop, perhaps with time.sleep()), which holds the "
            "worker for the whole wait." if script.asked > script.attempts else "")


def _ran(script: Script, what: str) -> None:
    expect(script.attempts, f"The worker never ran fetch_spotify_genres for {what} within "
           f"{WAIT:g} s.", "the worker to run it at once",
           "Is the task still a @shared_task in music/tasks.py? Read the worker's log.")


def test_retried_until_it_succeeds(project, runs, api):
    """503, 503, 200: the task is retried, and succeeds on its third attempt"""
    from music.models import Artist

    script = runs["flaky"]
    _ran(script, "a playlist the API answers 503, 503, then 200")
    loop = _looped(script)
    expect(not loop, loop, "each new attempt made by Celery: raise self.retry(...) or "
           "autoretry_for", "Let Celery retry: the worker is free between attempts.",
           lesson="#step-2-retry-with-backoff-and-jitter")
    if script.attempts == 1 and script.state == "FAILURE":
        fail(f"The API answered 503, and the task failed at once with {script.why()}, "
             "without a retry.", "a 503 retried: it is the API's own, passing trouble",
             "Turn a 5xx (response.status_code >= 500) into an exception you retry on; "
             "requests raises HTTPError for every error status, 404 and 503 alike.",
             lesson="#step-1-say-which-errors-pass")
    if script.attempts == 1:
        fail(f"The API answered 503, and the task ended with {script.state} without a retry: "
             "it caught the error and returned, so the genres are lost.",
             "a retry: raise self.retry(exc=exc) (or re-raise an exception in autoretry_for)",
             "Catching the exception is half of it: the task must ask Celery to run it again.",
             lesson="#step-2-retry-with-backoff-and-jitter")
    expect(script.attempts == 3 and script.state == "SUCCESS",
           f"The API answered 503, 503, then 200, and the task ran {script.attempts} times, "
           f"ending with {script.state}" + (f" ({script.why()})" if script.error else "") + ".",
           "three attempts: two retries, then SUCCESS",
           lesson="#step-2-retry-with-backoff-and-jitter")
    wanted = api.genres_for(script.url)
    genres = Artist.objects.get(pk=script.artist.pk).genres
    expect(genres == wanted, f"The third attempt got {wanted}, and {script.artist.name}'s "
           f"genres in the database are {genres}.", f"genres {wanted} saved, as in exercise 04",
           lesson="#step-1-say-which-errors-pass")


def _words(items, joiner: str) -> str:
    items = list(items)
    return ", ".join(items[:-1]) + f" {joiner} {items[-1]}" if len(items) > 1 else items[0]


def _held(what: str) -> str:
    return (f"(This check holds Python's random generator at the {what} of its range, so that "
            "jitter cannot hide the countdowns' growth.)")


@needs(test_retried_until_it_succeeds)
def test_countdowns_grow(runs):
    """Each retry waits longer than the one before: exponential backoff"""
    flaky, down = runs["flaky"], runs["down"]
    first, second = flaky.retries[:2]
    if first == second:
        why = (" That is Celery's default_retry_delay: no countdown was given."
               if first == 180 else "")
        fail(f"Both retries asked for a countdown of {first:g} s: a constant wait.{why} "
             + _held("top"), "a longer wait each time: 1 s, 2 s, 4 s... (exponential backoff)",
             "retry_backoff=True on the task (with autoretry_for), or countdown=2 ** "
             "self.request.retries with self.retry().", lesson="#step-2-retry-with-backoff-and-jitter")
    expect(first > 0, f"The first retry asked for a countdown of {first:g} s: it asks the "
           "API again at once, while it is still down.", "a first wait of about a second or more",
           lesson="#step-2-retry-with-backoff-and-jitter")
    expect(second > first, f"The first retry waited {first:g} s and the second {second:g} s: "
           f"the wait shrinks. {_held('top')}", "each wait longer than the one before",
           lesson="#step-2-retry-with-backoff-and-jitter")
    waits = down.retries
    shrinks = [i for i in range(1, len(waits)) if waits[i] < waits[i - 1]]
    expect(not shrinks, "Against an API that never recovers, the retries asked for "
           f"{', '.join(f'{w:g}' for w in waits)} s: the wait shrinks at some point.",
           "waits that grow (or stay at a maximum) from one retry to the next",
           lesson="#step-2-retry-with-backoff-and-jitter")


@needs(test_retried_until_it_succeeds)
def test_countdowns_have_jitter(project, api, watch, fake, runs):
    """Retry countdowns have a random part: jitter"""
    probe = watch.run(project, api, fake, {"probe": (503, 200)}, top=False)["probe"]
    top = runs["flaky"].retries[0]
    expect(probe.retries, f"With the same 503 first, the task ran {probe.attempts} time(s) "
           f"and ended {probe.state}, where it had retried before.",
           "the same retry, whatever the random generator says",
           lesson="#step-2-retry-with-backoff-and-jitter")
    bottom = probe.retries[0]
    seen = [top, bottom]
    # A generator of the project's own (random.Random()) is not held: its jitter is there, but
    # two of its draws can fall close together. Two more probes tell it from no jitter at all.
    for _ in range(2):
        if max(seen) - min(seen) > JITTER:
            break
        again = watch.run(project, api, fake, {"probe": (503, 200)}, top=False)["probe"]
        seen += again.retries[:1]
    if max(seen) - min(seen) <= JITTER:
        task = watch.task
        off = (" retry_jitter=False switches Celery's jitter off."
               if getattr(task, "retry_backoff", False) and not getattr(task, "retry_jitter", True)
               else "")
        fail("This check ran the first retry with Python's random generator at the top and at "
             f"the bottom of its range, and each time it asked for "
             f"{_words(sorted({f'{w:g} s' for w in seen}), 'or')}: the countdown has "
             f"no random part.{off}",
             "a random part in each countdown (jitter), so that tasks that failed together "
             "don't all retry at the same moment",
             "retry_jitter=True (Celery's default with retry_backoff), or add random.uniform() "
             "to your countdown. (Jitter from random.SystemRandom or secrets can't be "
             "observed here: use the random module.)",
             lesson="#why-jitter")


def test_gives_up_after_five_retries(runs):
    """A 5xx that never ends: FAILURE after 5 retries, 6 attempts"""
    script = runs["down"]
    code = script.steps[0]
    _ran(script, f"a playlist the API always answers {code}")
    loop = _looped(script)
    expect(not loop, loop, "each new attempt made by Celery", lesson="#step-2-retry-with-backoff-and-jitter")
    if script.attempts == 1:
        only = runs["flaky"].attempts > 1
        fail(f"The API answered {code}, and the task ended with {script.state}"
             + (f" ({script.why()})" if script.error else "") + " without a single retry"
             + (", where a 503 was retried." if only else "."),
             f"every 5xx retried, {code} as much as 503",
             "Retry when response.status_code >= 500"
             + (", not on 503 only." if only else "."),
             lesson="#step-1-say-which-errors-pass")
    if script.attempts >= ENDLESS:
        fail(f"The API answered {code} every time, and the task was still retrying after "
             f"{script.attempts} attempts: it never gives up (max_retries=None?).",
             f"at most {RETRIES} retries, then FAILURE",
             f"Set max_retries={RETRIES} on the task.", lesson="#step-2-retry-with-backoff-and-jitter")
    default = (" Celery's default max_retries is 3: set max_retries=5."
               if script.attempts == 4 else "")
    expect(script.attempts == RETRIES + 1,
           f"The API answered {code} every time, and the task ran {script.attempts} times "
           f"({script.attempts - 1} retries).{default}",
           f"{RETRIES} retries, so {RETRIES + 1} attempts in all",
           lesson="#step-2-retry-with-backoff-and-jitter")
    expect(script.state == "FAILURE", f"After its last retry the task ended with "
           f"{script.state}: the lost genres look like a success.",
           "FAILURE after the last retry, so that Flower and the result show it",
           "Let the last error out: Celery raises it when max_retries is reached.",
           lesson="#step-2-retry-with-backoff-and-jitter")


def test_timeouts_and_dropped_connections_are_retried(runs):
    """A timeout and a dropped connection are retried, then succeed"""
    for name, what in (("hang", "a question the API never answers in time"),
                       ("drop", "a connection the API closes without answering")):
        script = runs[name]
        _ran(script, what)
        if script.attempts == 1 and script.state == "SUCCESS" and name == "hang":
            fail(f"The API hung for {HANG_FOR:g} s, and the task waited for it, with no "
                 f"timeout (SPOTIFY_API_TIMEOUT was {TIMEOUT:g} s).",
                 "requests.get(..., timeout=settings.SPOTIFY_API_TIMEOUT), as the starter has it",
                 lesson="#which-failures-deserve-a-retry")
        expect(script.attempts == 2 and script.state == "SUCCESS",
               f"After {what}, the task ran {script.attempts} time(s) and ended with "
               f"{script.state}" + (f" ({script.why()})" if script.error else "") + ".",
               "one retry, then SUCCESS: requests.ConnectionError and requests.Timeout are "
               "passing troubles", "Retry on (requests.ConnectionError, requests.Timeout) as "
               "well as on a 5xx.", lesson="#step-1-say-which-errors-pass")


_NOT_A_MARK = {"id", "name", "email", "spotify_playlist_url", "genres"}


def _marks(artist, compared) -> list[str]:
    """Fields whose value on ``artist`` changed and differs from ``compared`` (a date: set where
    it was empty, and empty on ``compared``)."""
    from django.db import models

    fresh = type(artist).objects.get(pk=artist.pk)
    other = type(artist).objects.get(pk=compared.pk) if compared else None
    found = []
    for column in type(artist)._meta.concrete_fields:
        if column.name in _NOT_A_MARK:
            continue
        now, before = getattr(fresh, column.attname), getattr(artist, column.attname)
        if isinstance(column, (models.DateField, models.TimeField)):
            # A date that every save moves (auto_now) is no mark; one that was empty and is
            # set now, when the playlist was found it stays empty, is one: "missing since".
            if before is None and now is not None and (
                    other is None or getattr(other, column.attname) is None):
                found.append(column.name)
            continue
        if now != before and (other is None or now != getattr(other, column.attname)):
            found.append(column.name)
    return found


def test_404_is_not_retried(runs):
    """A 404 is asked once: no retry, no genres, the artist marked as not found"""
    from music.models import Artist

    script = runs["missing"]
    _ran(script, "a playlist the API answers 404")
    expect(script.attempts == 1 and script.asked == 1,
           f"The API answered 404, and the task asked it {script.asked} times in "
           f"{script.attempts} attempts: it retried a playlist that does not exist.",
           "one question: a 404 is an answer, and asking again won't change it",
           "Retry only what can pass: no connection, a timeout, a 5xx. autoretry_for="
           "(Exception,) or (requests.RequestException,) retries a 404 too.",
           lesson="#step-3-a-404-is-an-answer")
    fresh = Artist.objects.get(pk=script.artist.pk)
    expect(fresh.spotify_playlist_url == script.url,
           f"After the 404, {script.artist.name}'s playlist URL was erased.",
           "the URL the artist gave kept, and the artist marked as not found",
           lesson="#step-3-a-404-is-an-answer")
    expect(fresh.genres == [], f"After the 404, {script.artist.name}'s genres are "
           f"{fresh.genres}.", "no genres", lesson="#step-3-a-404-is-an-answer")
    succeeded = runs["flaky"] if runs["flaky"].state == "SUCCESS" else None
    expect(_marks(script.artist, succeeded and succeeded.artist),
           f"After the 404, {script.artist.name}'s row is as it was before the task ran: "
           "nothing says that the playlist was not found, so it looks like a playlist with no "
           "genres, or one still waiting.",
           "the artist marked: Artist.playlist_not_found = True (a BooleanField, default "
           "False, with its migration)",
           "Add the field to music/models.py, run makemigrations, and set it in the task "
           "when the API answers 404.", lesson="#step-3-a-404-is-an-answer")

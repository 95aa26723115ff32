"""Exercise 10 · Deliver every task, even when a worker dies.

The first check runs with no worker at all: the feedback messages must wait in the broker. The
worker starts in the second check, which looks into Redis while each task begins: with late
acknowledgement its message is still there, in kombu's ``unacked`` hash. The congratulations
task is then given the same message twice, in this worker; once while its first run is sending
the email (a second worker that got it after the visibility timeout: a check-then-act gap sends
two); and once more in a new process (a restarted worker), where memory kept in the worker
process is gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from celery.signals import task_postrun, task_received

from grader.harness import expect, fail, guard, needs, timed
from grader.harness.finished import Finished, explain
from grader.harness.mail import CapturingBackend
from grader.harness.project import settings_advice

FEEDBACK = "feedback.tasks.send_feedback_email_task"
TASK = "music.tasks.send_album_congratulations"
FAST = 0.5  # seconds a feedback POST may take
EMAIL_DELAY = 1.0  # seconds the feedback email takes while the POSTs are timed
WITHIN = 5.0  # seconds the worker may take to end what it was given
ACKED_WITHIN = 2.0  # seconds the worker may take to acknowledge a task that has ended
MIN_VISIBILITY = 600  # seconds: the longest retry wait of exercise 09 (retry_backoff_max)
RESTART_LIMIT = 15.0  # seconds the new worker process may take
RACE_WAIT = 1.0  # seconds an email waits for the same message, run at the same time elsewhere
SETTING = {"task_acks_late": "CELERY_TASK_ACKS_LATE",
           "task_reject_on_worker_lost": "CELERY_TASK_REJECT_ON_WORKER_LOST",
           "worker_prefetch_multiplier": "CELERY_WORKER_PREFETCH_MULTIPLIER",
           "broker_transport_options": "CELERY_BROKER_TRANSPORT_OPTIONS"}
STEP_ACKS = "#step-2-acknowledge-late"
STEP_SETTINGS = "#step-3-one-message-at-a-time"
STEP_VISIBILITY = "#step-4-an-explicit-visibility-timeout"
STEP_IDEMPOTENT = "#step-5-make-the-congratulations-idempotent"
posted: dict = {}  # what the first check left waiting in the broker
delivered: dict = {}  # the congratulations messages of the redelivery check


# -- the broker, read directly -------------------------------------------------------------------

def _redis(broker):
    import redis
    return redis.Redis.from_url(broker.url)


def _message_id(raw) -> str | None:
    """The task id in one of kombu's stored messages (a queue entry, or an ``unacked`` value)."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if isinstance(message, list) and message:  # unacked: [message, exchange, routing key]
        message = message[0]
    headers = message.get("headers") if isinstance(message, dict) else None
    return (headers or {}).get("id")


def _waiting(client) -> dict[str, str]:
    """Task id → the Redis list (queue) where its message waits, over every list."""
    found = {}
    for key in client.scan_iter(count=500, _type="list"):
        for raw in client.lrange(key, 0, -1):
            task_id = _message_id(raw)
            if task_id:
                found[task_id] = key.decode(errors="replace").split("\x06\x16")[0]
    return found


def _unacked(client) -> set[str]:
    return {i for i in map(_message_id, client.hvals("unacked")) if i}


# -- settings, in the student's words ----------------------------------------------------------

def _advice(project, missing: dict[str, str]) -> str:
    return settings_advice(project, missing, SETTING,
                           "A worker in production needs it most: set it unconditionally.")


def _task(project, dotted, exercise, expected):
    lesson = {"02": "02-offload-feedback-email.md", "05": "05-signals-on-commit.md"}[exercise]
    return project.task(dotted, exercise=exercise, expected=expected, lesson=lesson)


# -- with no worker ------------------------------------------------------------------------------

@guard  # exercise 02 already made the messages wait: this guards it
@timed
def test_posts_wait_in_the_broker(project, celery_app, broker, client, settings, published,
                                  outbox, fake, new_process):
    """With no worker running, feedback POSTs answer at once and their messages wait in Redis"""
    _task(project, FEEDBACK, "02", "send_feedback_email_task from exercise 02")
    settings(FEEDBACK_EMAIL_DELAY=EMAIL_DELAY)
    forms = [{"email": fake.email(), "message": fake.message()} for _ in range(fake.count(3, 6))]
    client.get("/feedback/")  # loads the URLs, the view and its template: not timed
    took = []
    for form in forms:
        started = time.monotonic()
        response = client.post("/feedback/", form)
        took.append(time.monotonic() - started)  # the first opens the connection to Redis
        expect(response.status_code in (301, 302, 303),
               f"POST /feedback/ answered {response.status_code}.", "a redirect, as before",
               lesson="02-offload-feedback-email.md#step-3-call-it-with-delay")
    expect(not outbox.sent, f"{len(outbox.sent)} feedback email(s) were sent with no worker "
           "running: the view sends them itself.", "messages that wait for a worker",
           lesson="02-offload-feedback-email.md#step-3-call-it-with-delay")
    ids = [m.id for m in published.of(FEEDBACK)]
    expect(len(ids) == len(forms), f"{len(forms)} feedback POSTs published {len(ids)} "
           "send_feedback_email_task messages.", "one message per POST",
           lesson="02-offload-feedback-email.md#step-3-call-it-with-delay")
    waiting = _waiting(_redis(broker))
    queues = Counter(waiting[i] for i in ids if i in waiting)
    missing = [i for i in ids if i not in waiting]
    expect(not missing, f"{len(forms)} messages were published with no worker running, and "
           f"{len(missing)} of them are not in any Redis list of this broker "
           f"(found: {dict(queues) or 'none'}).",
           f"{len(forms)} messages waiting in the queue (LLEN celery = {len(forms)})",
           "Is something else consuming this broker's queue?",
           lesson="#step-1-messages-wait-for-a-worker")
    posted.update(forms=forms, ids=ids, queues=dict(queues))
    expect(max(took[1:]) < FAST, f"With no worker running, feedback POSTs took "
           f"{', '.join(f'{t:.2f}' for t in took)} s.",
           f"each answer in under {FAST} s (the first, which connects to Redis, is not timed)",
           lesson="#step-1-messages-wait-for-a-worker", timing=True)


# -- a worker started later ------------------------------------------------------------------------

class _DyingMailServer(CapturingBackend):
    """The harness's mail backend, except that the worker "dies" while sending one email.

    WorkerLostError is what a prefork worker reports when the child process running a task is
    killed (kill -9, out of memory): raised inside the task, Celery handles it the same way.
    """

    victim: str | None = None  # the task id whose (first) email kills its worker

    def send_messages(self, messages):
        from billiard.exceptions import WorkerLostError
        from celery import current_task

        if current_task and current_task.request.id == type(self).victim:
            type(self).victim = None
            raise WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL), sent by the "
                                  "checker while the task was sending its email.")
        return super().send_messages(messages)


class _RacingMailServer(CapturingBackend):
    """The harness's mail backend, except that while the worker sends the email of one album,
    the same message runs again in another thread (a second worker, given the message by Redis
    once the visibility timeout passed), which this email waits for, RACE_WAIT s at most."""

    title: str | None = None  # the album whose first email starts the race
    duplicate = None  # the second run: {"thread", "result"}

    def send_messages(self, messages):
        from celery import current_task

        cls = type(self)
        if cls.title and current_task and any(cls.title in m.subject for m in messages):
            cls.title = None
            request = current_task.request
            task, args, kwargs, task_id = (current_task._get_current_object(), request.args,
                                           request.kwargs, request.id)
            run = cls.duplicate = {}

            def again():
                from django.db import connection
                try:
                    run["result"] = task.apply(args=args, kwargs=kwargs, task_id=task_id)
                finally:
                    connection.close()

            run["thread"] = threading.Thread(target=again, name="second-worker", daemon=True)
            run["thread"].start()
            run["thread"].join(RACE_WAIT)  # a claim held by this run keeps the other waiting
        return super().send_messages(messages)


class _Runs:
    """How each task message ran in the worker, and the kombu message of the one killed."""

    def __init__(self):
        self.succeeded: Counter = Counter()  # task id: runs that ended SUCCESS
        self.ended: Counter = Counter()  # task id: runs that ended, however
        self.victim: str | None = None
        self.message = None  # the kombu message of the victim's first delivery
        self._changed = threading.Condition()

    def _received(self, request=None, **_):
        if request is not None and request.id == self.victim and self.message is None:
            self.message = request.message

    def _ended(self, task_id=None, state=None, **_):
        with self._changed:
            self.ended[task_id] += 1
            if state == "SUCCESS":
                self.succeeded[task_id] += 1
            self._changed.notify_all()

    def wait(self, counts: dict[str, int], within: float = WITHIN) -> bool:
        """Until each id has ended ``counts[id]`` times."""
        with self._changed:
            return self._changed.wait_for(
                lambda: all(self.ended[i] >= n for i, n in counts.items()), timeout=within)

    def victim_again(self, task, within: float = WITHIN) -> bool:
        """Whether the killed message ran again and succeeded.

        Its kombu message says early what became of it: acknowledged ("ACK") means Redis forgot
        it, unless the task retries a lost worker (Celery's retry_on_worker_lost).
        """
        deadline = time.monotonic() + within
        retries = getattr(task, "retry_on_worker_lost", False)
        with self._changed:
            while not self.succeeded[self.victim]:
                state = getattr(self.message, "_state", None)
                if state == "ACK" and not retries:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.02))
        return True

    def __enter__(self) -> "_Runs":
        task_received.connect(self._received, weak=False)
        task_postrun.connect(self._ended, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        task_received.disconnect(self._received)
        task_postrun.disconnect(self._ended)


@pytest.fixture(scope="module")
def runs():
    with _Runs() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def finished():
    with Finished() as recorder:
        yield recorder


def test_worker_started_later_sends_each(project, celery_app, broker, runs, settings, fake,
                                         request):
    """A worker started later sends each email once, even one whose worker dies mid-task"""
    from grader.harness.mail import Outbox

    if not posted:  # (only a slow answer, measured last, leaves them for this check)
        pytest.skip('needs "With no worker running, feedback POSTs answer at once and their '
                    'messages wait in Redis" to pass first')
    forms, ids = posted["forms"], posted["ids"]
    victim = fake.random.choice(ids)
    runs.victim = _DyingMailServer.victim = victim
    settings(EMAIL_BACKEND=f"{__name__}._DyingMailServer")
    outbox = Outbox()  # opened before the worker starts: it sends at once
    try:
        request.getfixturevalue("worker")
        runs.wait({i: 1 for i in ids})
        again = runs.victim_again(celery_app.tasks.get(FEEDBACK))
    finally:
        _DyingMailServer.victim = None
    sent = outbox.sent  # each task sends before it ends
    killed = forms[ids.index(victim)]["email"]
    if not again and not [s for s in sent if s.message.to == [killed]]:
        _lost(project, celery_app, runs, len(forms))
    for form in forms:
        mine = [s for s in sent if s.message.to == [form["email"]]]
        expect(len(mine) == 1, f"The worker started after {len(forms)} feedback POSTs, and "
               f"sent {len(mine)} email(s) to {form['email']}"
               + (" (the one whose first run this check killed)" if form["email"] == killed
                  else "") + ".", "exactly one email per POST",
               lesson="#step-1-messages-wait-for-a-worker")
    client = _redis(broker)
    deadline = time.monotonic() + ACKED_WITHIN  # the worker acknowledges right after the end
    while (left := [i for i in ids if i in _waiting(client) or i in _unacked(client)]) and (
            time.monotonic() < deadline):
        time.sleep(0.02)
    expect(not left, f"{ACKED_WITHIN:g} s after the worker sent every email, {len(left)} of "
           "the messages are still in Redis: the worker never acknowledged them, and Redis will deliver them "
           "again after the visibility timeout.", "each message removed once its task ended",
           lesson=STEP_ACKS)


def _lost(project, app, runs, count):
    """Fail for a message lost with its worker, naming the setting that lost it."""
    task = app.tasks.get(FEEDBACK)
    observed = (f"The worker started and took the {count} waiting feedback messages. This check "
                "killed the worker process running one of them while it sent the email (as "
                "kill -9 or running out of memory would), and that message never came back: "
                "its email is lost.")
    expected = ("the killed task's message back in the queue, run again, and its email sent "
                "once: late acknowledgement and reject_on_worker_lost")
    late = task.acks_late if task is not None else app.conf.task_acks_late
    if late and not (task.reject_on_worker_lost if task is not None
                     else app.conf.task_reject_on_worker_lost):
        fail(observed, expected, "Late acknowledgement is on, and still: without "
             "CELERY_TASK_REJECT_ON_WORKER_LOST = True, Celery marks a task whose worker process "
             "died as FAILURE and acknowledges its message. "
             + _advice(project, {"task_reject_on_worker_lost": ""}), lesson=STEP_SETTINGS)
    if app.conf.task_acks_late and task is not None and not task.acks_late:
        fail(observed, expected, "CELERY_TASK_ACKS_LATE is on, and send_feedback_email_task "
             "says acks_late=False, which wins for that task: remove it.", lesson=STEP_ACKS)
    fail(observed, expected, "The worker acknowledged the message when the task began "
         "(early acknowledgement, Celery's default), so Redis forgot it. "
         + _advice(project, {"task_acks_late": "Set CELERY_TASK_ACKS_LATE = True (and "
                             "CELERY_TASK_REJECT_ON_WORKER_LOST = True) in config/settings.py, "
                             "under the Celery banner."}), lesson=STEP_ACKS)


# -- the settings, as the worker has them ---------------------------------------------------------

def test_worker_settings(project, celery_app):
    """Late acks, reject_on_worker_lost and a prefetch multiplier of 1 are on in the worker"""
    conf = celery_app.conf
    missing = {}
    if not conf.task_acks_late:
        missing["task_acks_late"] = ("Set CELERY_TASK_ACKS_LATE = True: the worker then "
                                     "acknowledges a message when its task has ended.")
    if not conf.task_reject_on_worker_lost:
        missing["task_reject_on_worker_lost"] = (
            "Set CELERY_TASK_REJECT_ON_WORKER_LOST = True: without it, a task whose worker "
            "process dies is marked FAILURE (WorkerLostError) and its message acknowledged, "
            "late acks or not.")
    prefetch = conf.worker_prefetch_multiplier
    if prefetch != 1:
        missing["worker_prefetch_multiplier"] = (
            "Set CELERY_WORKER_PREFETCH_MULTIPLIER = 1.")
    if not missing:
        return
    what = []
    if "task_acks_late" in missing:
        what.append("task_acks_late is off")
    if "task_reject_on_worker_lost" in missing:
        what.append("task_reject_on_worker_lost is off")
    if "worker_prefetch_multiplier" in missing:
        what.append(f"worker_prefetch_multiplier is {prefetch}"
                    + (" (Celery's default): each worker process reserves 4 messages, and a "
                       "long task holds the other 3 back while idle workers wait"
                       if prefetch == 4 else
                       " (0: no limit, the worker takes every message it can)" if prefetch == 0
                       else f": each worker process reserves {prefetch} messages at a time"))
    fail(f"In the app the worker runs, {'; '.join(what)}.",
         "task_acks_late True, task_reject_on_worker_lost True, worker_prefetch_multiplier 1",
         _advice(project, missing), lesson=STEP_SETTINGS)


def test_visibility_timeout(project, celery_app):
    """An explicit visibility timeout, longer than any countdown the project asks for"""
    options = dict(celery_app.conf.broker_transport_options or {})
    usual = ("Set CELERY_BROKER_TRANSPORT_OPTIONS = {\"visibility_timeout\": 7200} (seconds) in "
             "config/settings.py.")
    if "visibility_timeout" not in options:
        fail("The app's broker_transport_options has no visibility_timeout, so kombu's default "
             "of one hour applies without anyone having chosen it.",
             f"an explicit visibility_timeout of at least {MIN_VISIBILITY} s",
             _advice(project, {"broker_transport_options": usual}), lesson=STEP_VISIBILITY)
    value = options["visibility_timeout"]
    # kombu subtracts it from the time: a string ("7200") breaks the restoring of messages.
    expect(isinstance(value, (int, float)) and not isinstance(value, bool),
           f"visibility_timeout is {value!r}, not a number of seconds: kombu would fail when "
           "it looks for messages to deliver again.",
           f"a number of seconds, at least {MIN_VISIBILITY}",
           "Write a number (7200), or convert what you read from the environment "
           "(env.int(...)).", lesson=STEP_VISIBILITY)
    seconds = float(value)
    expect(seconds >= MIN_VISIBILITY,
           f"visibility_timeout is {seconds:g} s. A message that no worker has acknowledged "
           f"after {seconds:g} s goes to another worker: a task that runs longer, or a retry "
           "that waits longer (exercise 09's waits go up to 600 s), runs twice.",
           f"at least {MIN_VISIBILITY} s: longer than any task runs and any countdown or ETA "
           "the project schedules",
           "The lesson's short timeout is for the demonstration only: use hours in settings, "
           "e.g. 7200.", lesson=STEP_VISIBILITY)


# -- the same message twice ----------------------------------------------------------------------

def _album_id(message) -> str | None:
    values = [*message.args, *message.kwargs.values()]
    return str(values[0]) if len(values) == 1 else None


def _emails_for(albums, sent) -> dict[int, list]:
    """Album pk → its emails: to its artist, naming its title (the longest title that fits, so
    that "Blue Moon" does not take the email of "Blue Moonlight")."""
    found = {a.pk: [] for a in albums}
    for email in sent:
        fits = [a for a in albums if a.title in email.message.subject
                and email.message.to == [a.artist.email]]
        if fits:
            found[max(fits, key=lambda a: len(a.title)).pk].append(email)
    return found


def _redeliver(task, messages):
    """Publish each message again, as Redis does after a lost worker: same id, same arguments."""
    for message in messages:
        task.apply_async(args=message.args, kwargs=message.kwargs, task_id=message.id)


def test_same_message_twice_sends_one_email(project, celery_app, worker, runs, finished, settings,
                                           published, outbox, fake):
    """The same congratulations message delivered twice sends one email; each album gets one"""
    from django.db import transaction

    from music.models import Album, Artist

    task = _task(project, TASK, "05", "send_album_congratulations(album_id) from exercise 05")
    # One transaction: the messages leave at its commit (exercise 05), and the worker never
    # runs a task while this thread writes (SQLite would make either wait for the other).
    with transaction.atomic():
        twice = Artist.objects.create(name=fake.name(), email=fake.email())
        once = Artist.objects.create(name=fake.name(), email=fake.email())
        albums = [Album.objects.create(artist=twice, title=fake.title())
                  for _ in range(fake.count(2, 3))]
        albums.append(Album.objects.create(artist=once, title=fake.title()))
    messages = published.of(TASK)
    by_album = {str(a.pk): [m for m in messages if _album_id(m) == str(a.pk)] for a in albums}
    expect(all(len(m) == 1 for m in by_album.values()),
           f"{len(albums)} new albums published {len(messages)} send_album_congratulations "
           "messages.", "one message per new album, as in exercise 05",
           "Run `make check EX=05` first.", lesson="05-signals-on-commit.md")
    ends = finished.wait([m.id for m in messages], WITHIN)
    for message in messages:
        one = ends.get(message.id)
        if one is None or one.error is not None or one.state == "UNKNOWN":
            fail(f"A new album's first message did not send its email. "
                 f"{explain(one, 'send_album_congratulations')}",
                 "the first delivery of each message to send one email",
                 lesson=STEP_IDEMPOTENT)
    first = _emails_for(albums, outbox.sent)
    _each_album_once(albums, first, twice, "on its first delivery")
    _redeliver(task, messages)
    runs.wait({m.id: 2 for m in messages})
    again = _emails_for(albums, outbox.sent)
    doubled = [a for a in albums if len(again[a.pk]) > 1]
    if doubled:
        late = celery_app.conf.task_acks_late
        fail(f"Each album's message was delivered a second time, as Redis does when a worker "
             f"dies before acknowledging it, and {len(doubled)} of {len(albums)} artists got a "
             f"second email for the same album ({doubled[0].title!r}).",
             "one email per album, however often its message comes: an idempotent task",
             ("Late acknowledgement without an idempotent task sends duplicates: " if late
              else "") + "claim the album before sending, with a conditional UPDATE (e.g. "
             "Album.objects.filter(pk=album_id, congratulated_at__isnull=True).update(...)) "
             "and send only if it changed a row.", lesson=STEP_IDEMPOTENT)
    _each_album_once(albums, again, twice, "after its message came twice")
    delivered.update(messages=messages, albums=albums)
    _same_message_at_once(project, settings, finished, published, outbox, once, fake)


def _same_message_at_once(project, settings, finished, published, outbox, artist, fake):
    """Fail if the same message, run by two workers at once, sends two emails."""
    from django.db import transaction

    from music.models import Album

    title = fake.title()
    _RacingMailServer.title, _RacingMailServer.duplicate = title, None
    settings(EMAIL_BACKEND=f"{__name__}._RacingMailServer")
    before = len(outbox.sent)
    try:
        with transaction.atomic():
            album = Album.objects.create(artist=artist, title=title)
        message = next((m for m in published.of(TASK) if _album_id(m) == str(album.pk)), None)
        if message is not None:
            finished.wait([message.id], WITHIN)
        run = _RacingMailServer.duplicate
        if run:
            run["thread"].join(WITHIN)
    finally:
        _RacingMailServer.title = None
    if not run:
        return  # no email at all: the other checks say why
    emails = [e for e in outbox.sent[before:] if title in e.message.subject]
    expect(len(emails) <= 1, f"While the worker sent the email for {title!r}, another worker "
           "ran the same message (as Redis hands it on when the visibility timeout passes), and "
           f"{len(emails)} emails went out: each run checked that the album was not "
           "congratulated yet, before either of them had recorded it.",
           "one email: the album claimed in one step, before sending, so that a second run "
           "at the same moment finds it taken",
           "Check-then-act has a gap: replace `if album.congratulated_at ...` then save() "
           "with a conditional UPDATE, Album.objects.filter(pk=album_id, "
           "congratulated_at__isnull=True).update(...), and send only if it changed a row.",
           lesson=STEP_IDEMPOTENT)


def _each_album_once(albums, emails, shared_artist, when):
    """Fail unless every album has exactly one email, naming why an album got none."""
    none = [a for a in albums if not emails[a.pk]]
    if not none:
        for album in albums:
            expect(len(emails[album.pk]) == 1, f"The album {album.title!r} got "
                   f"{len(emails[album.pk])} emails {when}.", "exactly one",
                   lesson=STEP_IDEMPOTENT)
        return
    sent_any = [a for a in albums if emails[a.pk]]
    other_artist = [a for a in none if a.artist_id != shared_artist.pk]
    if sent_any and other_artist:
        album = other_artist[0]
        why = (f"{len(sent_any)} of {len(albums)} new albums got their email: something the "
               "task remembers stops the emails of other albums, even another artist's.")
    elif sent_any:
        album = none[0]
        count = sum(a.artist_id == shared_artist.pk for a in albums)
        why = (f"{shared_artist.name} has {count} new albums and got an email for "
               f"{count - len(none)} of them: the task remembers what was sent per artist, not "
               "per album, so it suppresses the email for a different album.")
    else:
        album = none[0]
        why = "None of them got an email."
    fail(f"The album {album.title!r} got no email {when}. {why}",
         "one email for every album: remember what was sent per album (its id)",
         "Key the claim by the album: a field on Album, or a row keyed by the album id.",
         lesson=STEP_IDEMPOTENT)


# -- after a restart -----------------------------------------------------------------------------

_RESTARTED = """
import json, sys
import django
django.setup()
from django.core import mail
import config, music.tasks
# The task object at that path: its registered name may be another (a tasks/ package, name=...).
task = config.celery_app.tasks[getattr(music.tasks, sys.argv[1].rpartition(".")[2]).name]
print("READY", flush=True)
line = sys.stdin.readline()
if not line:
    sys.exit(0)
out = []
for task_id, args, kwargs in json.loads(line):
    before = len(getattr(mail, "outbox", []))
    result = task.apply(args=args, kwargs=kwargs, task_id=task_id)
    error = result.traceback if result.failed() else None
    out.append({"emails": len(getattr(mail, "outbox", [])) - before, "error": error})
print("RESULT " + json.dumps(out), flush=True)
"""


class _NewProcess:
    """Another worker process for the project (a restart, a second worker), started early.

    It loads Django while the other checks run, then runs the messages it is given with
    ``task.apply()``: the task's own code, in a process that has seen nothing before.
    """

    def __init__(self, project):
        env = {**os.environ, **project.environment}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _RESTARTED, TASK], cwd=project.path, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, runs) -> list[dict]:
        """Run ``runs`` [(task id, args, kwargs)]; each one's {"emails", "error"}."""
        try:
            out, err = self.process.communicate(json.dumps(runs) + "\n", timeout=RESTART_LIMIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            fail(f"A new process that loads your project and runs send_album_congratulations "
                 f"did not finish within {RESTART_LIMIT:g} s.", "a task that ends at once",
                 lesson=STEP_IDEMPOTENT)
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            fail("A new process that loads your project could not run "
                 "send_album_congratulations:\n" + (err or out)[-2000:],
                 "the project to load in a new process, as a restarted worker does",
                 lesson=STEP_IDEMPOTENT)
        return json.loads(line.removeprefix("RESULT "))

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def new_process(project):
    process = _NewProcess(project)
    yield process
    process.close()


@needs(test_same_message_twice_sends_one_email)
def test_a_restarted_worker_sends_nothing_more(project, celery_app, new_process, fake):
    """After a restart, the same message again sends nothing: what was sent is kept durably"""
    from music.models import Album

    messages, albums = delivered["messages"], delivered["albums"]
    repeat = fake.random.choice(messages)
    album = next(a for a in albums if str(a.pk) == _album_id(repeat))
    # An album no message was ever published for (bulk_create sends no post_save): proof that
    # the new process does send when it should.
    fresh = Album.objects.bulk_create([Album(artist=album.artist, title=fake.title())])[0]
    if fresh.pk is None:
        fresh = Album.objects.get(title=fresh.title)
    from celery.utils import uuid
    first, control = new_process.run([
        [repeat.id, list(repeat.args), dict(repeat.kwargs)],
        [uuid(), [fresh.pk], {}]])
    if control["error"] or control["emails"] != 1:
        fail("In a new process, send_album_congratulations for an album nobody was "
             f"congratulated on sent {control['emails']} email(s)"
             + (f" and raised:\n{control['error']}" if control["error"] else "."),
             "one email for a new album, in any worker process", lesson=STEP_IDEMPOTENT)
    if first["emails"] == 0:
        return
    dedupe = celery_app.conf.worker_deduplicate_successful_tasks
    fail(f"This worker had already sent the email for {album.title!r}. A new process (a worker "
         "after a restart, or another worker) given the same message sent it again: what the "
         "task remembers lives in the worker's memory (a set, a dict, Django's default "
         "in-memory cache), and a restart or a second worker forgets it.",
         "one email per album, whichever worker runs the message: the claim kept in the "
         "database, which every worker shares and a restart keeps",
         ("worker_deduplicate_successful_tasks skips a message only in the worker that ran it, "
          "or while its result is kept: " if dedupe else "")
         + "store the claim on the album (a congratulated_at field set with a conditional "
         "UPDATE), or in a table with a unique album id.", lesson=STEP_IDEMPOTENT)

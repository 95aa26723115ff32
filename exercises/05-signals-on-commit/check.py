"""Exercise 05 · Congratulate artists on new albums, after the commit."""

import ast
import json
import sys
import weakref

import pytest

from grader.harness import expect, fail, needs
from grader.harness.published import sent_instead
from grader.harness.finished import Finished, explain

TASK = "music.tasks.send_album_congratulations"
HOLD = 0.2  # seconds a check watches for an email that must not come (a task takes ~2 ms)
WITHIN = 5.0  # seconds an email that must come may take
STEP_1 = "#step-1-a-task-that-sends-the-congratulations"
STEP_2 = "#step-2-a-receiver-for-new-albums"
STEP_3 = "#step-3-connect-it-in-ready"
STEP_4 = "#step-4-enqueue-after-the-commit"
first = {}  # the album of the first check, for the checks that follow


class _Rollback(Exception):
    pass


@pytest.fixture(scope="module")
def finished():
    """How the worker ended each task message, for the whole checker."""
    with Finished() as recorder:
        yield recorder


def _artist(fake):
    from music.models import Artist
    return Artist.objects.create(name=fake.name(), email=fake.email())


def _album(fake, artist=None):
    from music.models import Album
    return Album.objects.create(artist=artist or _artist(fake), title=fake.title())


def _album_id(message):
    """The album id a send_album_congratulations message carries, as a string (or None)."""
    values = [*message.args, *message.kwargs.values()]
    return str(values[0]) if len(values) == 1 else None


def _receivers(model):
    """Your post_save receivers that run for ``model``: [(name, connected for every model)]."""
    from django.db.models.signals import post_save
    from django.dispatch.dispatcher import NONE_ID, _make_id

    with post_save.lock:
        entries = list(post_save.receivers)
    found = []
    for (_, sender), ref, _ in entries:
        if sender not in (NONE_ID, _make_id(model)):
            continue
        function = ref() if isinstance(ref, weakref.ReferenceType) else ref
        module = getattr(function, "__module__", None) or ""
        if function is None or module.startswith(("django.", "celery.", "grader.")):
            continue
        name = getattr(function, "__qualname__", None) or repr(function)
        found.append((f"{module}.{name}" if module else name, sender == NONE_ID))
    return found


def _freed_after_ready(project) -> str:
    """A receiver that MusicConfig.ready() defines inside itself and connects weakly; "" if none.

    Once ready() returns nothing holds such a function, and the signal drops it. (With DEBUG
    on, a cache in Django's signature check happens to keep it alive.)
    """
    try:
        tree = ast.parse((project.path / "music" / "apps.py").read_text())
    except (OSError, SyntaxError, ValueError):
        return ""

    def weak(call):
        return not any(k.arg == "weak" and isinstance(k.value, ast.Constant)
                       and k.value.value is False for k in call.keywords)

    def called(call):
        return getattr(call.func, "attr", None) or getattr(call.func, "id", "")

    for ready in ast.walk(tree):
        if not (isinstance(ready, ast.FunctionDef) and ready.name == "ready"):
            continue
        local = {node.name: node for node in ast.walk(ready)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not ready}
        for name, node in local.items():
            if any(isinstance(d, ast.Call) and called(d) == "receiver" and weak(d)
                   for d in node.decorator_list):
                return f"{name}(), a function defined inside ready() and decorated with @receiver"
        for call in ast.walk(ready):
            if isinstance(call, ast.Call) and called(call) == "connect" and call.args and weak(call):
                if isinstance(call.args[0], ast.Lambda):
                    return "a lambda"
                if isinstance(call.args[0], ast.Name) and call.args[0].id in local:
                    return f"{call.args[0].id}(), a function defined inside ready()"
    return ""


def _why_more_than_one(model, count) -> str:
    """Why one new album published ``count`` messages, from the receivers connected."""
    mine = _receivers(model)
    names = [name for name, _ in mine]
    if len(names) > 1:
        which = (f"{names[0]} is connected {len(names)} times" if len(set(names)) == 1
                 else f"{len(names)} receivers of yours run for each new album: "
                 f"{', '.join(names)}")
        return (f"{which}. The receiver is connected twice (for instance with @receiver and "
                "with connect()): connect it once, in ready(), with a dispatch_uid.")
    return (f"Your receiver is connected once, and it enqueued {count} messages: does it "
            "call .delay() and also on_commit(...)?")


def _ended(finished, messages):
    """Wait for the worker to end every message; return {id: Ended}."""
    return finished.wait([m.id for m in messages], WITHIN)


def _the_email_for(album, sent, finished):
    """Fail unless ``sent`` holds exactly one right email for ``album``, from the worker."""
    artist = album.artist
    mine = [s for s in sent if album.title in s.message.subject]
    expect(mine, f"No email's subject names the album: the subjects were "
           f"{[s.message.subject for s in sent]}.", f"a subject that contains {album.title!r}",
           "Put the album's title in the subject.", lesson=STEP_1)
    expect(len(mine) == 1, f"{len(mine)} emails arrived for the album {album.title!r}, from "
           "one message.", "exactly one", "The task sends one email: call send_mail once.",
           lesson=STEP_1)
    email = mine[0].message
    expect(email.to == [artist.email], f"The email for {album.title!r} went to {email.to}.",
           f"the album's artist, {artist.email}", "Send it to album.artist.email.",
           lesson=STEP_1)
    expect(artist.name in email.body, f"The email for {album.title!r} does not name the artist.",
           f"a body that contains {artist.name!r}", lesson=STEP_1)
    expect(mine[0].thread in finished.threads, "The email was sent right inside the code that "
           "saved the album, not by the worker.", "the worker to send it, through the task",
           "In the receiver, enqueue send_album_congratulations with .delay(); don't call "
           "send_mail, nor the task itself or its .apply().",
           lesson=STEP_2)


def _emails_after(messages, outbox, finished, what):
    """Once the worker has ended ``messages``, the emails sent; fail if a task broke."""
    ended = _ended(finished, messages)
    for message in messages:
        one = ended.get(message.id)
        if one is None or one.error is not None or one.state == "UNKNOWN":
            fail(f"No email arrived for {what}. {explain(one, 'send_album_congratulations')}",
                 "the task to run without an error and send one email",
                 "Run `celery -A config worker -l info`, create an album in the shell, and "
                 "read the worker's log. Did you restart the worker after adding the task?",
                 lesson="#see-it-work")
    return outbox.sent


def test_task_is_shared(project, celery_app):
    """music.tasks.send_album_congratulations is a @shared_task"""
    task = project.task(TASK, exercise="04", lesson=STEP_1,
                        expected="@shared_task def send_album_congratulations(album_id) in "
                        "music/tasks.py")
    problem = project.not_shared(task, celery_app)
    expect(problem is None, f"send_album_congratulations {problem}.",
           "@shared_task", lesson="02-offload-feedback-email.md#step-2-why-shared_task")


def test_orm_album_sends_one_email(project, celery_app, worker, outbox, published, finished,
                                   fake):
    """An album made with the ORM, before any page loads, sends its artist one email"""
    from music.models import Album

    # The first thing this checker does with the project: no URL conf and no view is loaded,
    # as in a worker, the shell or a management command.
    views_loaded = "config.urls" in sys.modules or "music.views" in sys.modules
    artist = _artist(fake)
    everyone = [name for name, every in _receivers(Album) if every]
    expect(not published.of(TASK), "Creating an Artist, not an album, published a "
           "send_album_congratulations message"
           + (f": {', '.join(everyone)} is connected to post_save without sender=Album, so "
              "it runs for every model saved." if everyone else "."),
           "messages for new albums only",
           "post_save.connect(album_saved, sender=Album, ...): sender= limits the receiver "
           "to albums.", lesson=STEP_3)
    album = _album(fake, artist)
    messages = published.of(TASK)
    early = [s for s in outbox.sent if s.thread not in finished.threads]
    expect(not early, "The email was sent right inside Album.objects.create(), not by a worker.",
           "a send_album_congratulations message; the worker sends the email",
           "In the receiver, enqueue the task with .delay(); don't call send_mail, nor the "
           "task itself or its .apply(), which run it right there.", lesson=STEP_2)
    if not messages:
        if not views_loaded and _urls_make_it_work(fake, published):
            fail("Creating an Album published no send_album_congratulations message until "
                 "this check loaded your URLs (and with them music/views.py): the receiver "
                 "is connected only because views.py imports it, an accident of import order. "
                 "A worker, the shell or a management command never loads the views, so their "
                 "albums get no email.",
                 "the receiver connected in MusicConfig.ready(), whatever is imported first",
                 "In music/apps.py: def ready(self): from . import signals (or connect it "
                 "there); remove the import from views.py.", lesson=STEP_3)
        freed = _freed_after_ready(project)
        if freed:
            fail("Creating an Album published no send_album_congratulations message. "
                 f"MusicConfig.ready() connects {freed} with a weak reference (connect()'s "
                 "default): once ready() returns, nothing else holds it, Python frees it, and "
                 "the signal silently drops the receiver. With DEBUG on, a cache in Django "
                 "happens to keep it alive, so it works in development and fails in production.",
                 "a receiver that stays connected as long as the process runs",
                 "Define the receiver at module level in music/signals.py and connect that "
                 "function (or pass weak=False).", lesson=STEP_3)
        fail("Creating an Album with Album.objects.create() published no "
             "send_album_congratulations message, and no email was sent."
             + sent_instead(celery_app, published.messages),
             "one message per new album, from a post_save receiver, whatever creates the album "
             "(the view, the admin, the shell)",
             "A receiver catches every save; code in one view catches only that view.",
             lesson=STEP_2)
    expect(len(messages) == 1, f"One new album published {len(messages)} messages. "
           + _why_more_than_one(Album, len(messages)), "exactly one", lesson=STEP_3)
    carried = [*messages[0].args, *messages[0].kwargs.values()]
    plain = all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in carried)
    if None in carried:
        fail(f"The new album's id is {album.pk}, and the message carries {carried}: the album "
             "had no id yet when its id was read, so the task was enqueued before the album "
             "was saved (a pre_save receiver? on_commit outside a transaction runs at once).",
             f"send_album_congratulations.delay({album.pk}): the album's id",
             "Enqueue from a post_save receiver (created is True), with instance.pk.",
             lesson=STEP_2)
    expect(_album_id(messages[0]) == str(album.pk) and plain,
           f"The new album's id is {album.pk}, and the message carries {carried}"
           + ("." if plain else ": a model instance, which JSON cannot carry (kombu raises "
              "EncodeError)."),
           f"send_album_congratulations.delay({album.pk}): the album's id",
           "Pass instance.pk, as in lesson 04; the task reads the album itself.", lesson=STEP_2)
    _the_email_for(album, _emails_after(messages, outbox, finished, "the album"), finished)
    first["album"] = album


def _urls_make_it_work(fake, published) -> bool:
    """After loading the URL conf (and with it music/views.py), does a new album enqueue?"""
    from django.urls import get_resolver

    get_resolver().url_patterns  # imports config/urls.py and every view module
    before = len(published.of(TASK))
    _album(fake)
    return len(published.of(TASK)) > before


@needs(test_orm_album_sends_one_email)
def test_a_post_save_receiver(project, celery_app, published):
    """It comes from a post_save receiver for Album, not from an overridden save()"""
    from django.db import connection, models, transaction
    from django.db.models.signals import post_save

    from music.models import Album

    album = first["album"]
    # post_save alone, as Django sends it for a new album, in a transaction rolled back at
    # the end: what the receivers enqueue waits in the commit callbacks and never leaves.
    try:
        with transaction.atomic():
            post_save.send(sender=Album, instance=album, created=True, update_fields=None,
                           raw=False, using=connection.alias)
            reacted = len(connection.run_on_commit) + len(published.of(TASK))
            raise _Rollback
    except _Rollback:
        pass
    if reacted:
        # A receiver for every model that keeps albums only (isinstance) is a right one, if a
        # slower one: an Artist that enqueued has failed the first check already.
        return
    overridden = Album.save is not models.Model.save
    fail("Sending post_save for a new album enqueued nothing"
         + (": the message comes from Album.save(), overridden in music/models.py. A model "
            "that enqueues email in save() mixes storage with messaging, and a save() that "
            "only fixes a typo must work out whether the row is new." if overridden else "."),
         "a post_save receiver for Album, connected in MusicConfig.ready(), that enqueues "
         "the task", "Move the code from save() to a receiver in music/signals.py."
         if overridden else "Connect a receiver with post_save.connect(..., sender=Album).",
         lesson="#signals-or-overriding-save")


@needs(test_orm_album_sends_one_email)
def test_nothing_before_the_commit(project, celery_app, worker, outbox, published, finished,
                                   fake):
    """Inside an open transaction nothing is sent; after the commit, one email"""
    from django.db import transaction

    with transaction.atomic():
        album = _album(fake)
        expect(not published.of(TASK),
               "send_album_congratulations was published while the transaction that creates "
               "the album was still open. The worker can run it before the commit, when "
               "Album.objects.get() raises Album.DoesNotExist (on SQLite, sometimes 'database "
               "table is locked'), and the admin, which saves inside a transaction, would "
               "lose its emails.",
               "the message published only after the commit",
               "transaction.on_commit(lambda: send_album_congratulations.delay(album_id)), or "
               "send_album_congratulations.delay_on_commit(album_id)", lesson=STEP_4)
        sent = outbox.wait_for(1, within=HOLD)
        expect(not sent, "An email was sent while the album's transaction was still open.",
               "nothing until the commit", lesson=STEP_4)
    messages = published.of(TASK)
    expect(len(messages) == 1, f"After the commit, {len(messages)} messages were published.",
           "exactly one, right after the commit", lesson=STEP_4)
    _the_email_for(album, _emails_after(messages, outbox, finished, "the album"), finished)


@needs(test_orm_album_sends_one_email)
def test_rollback_sends_nothing(project, celery_app, worker, outbox, published, fake):
    """An album whose transaction rolls back publishes nothing and sends no email"""
    from django.db import transaction

    try:
        with transaction.atomic():
            album = _album(fake)
            raise _Rollback
    except _Rollback:
        pass
    expect(not published.of(TASK), f"The album {album.title!r} was rolled back, so it never "
           "existed, and a send_album_congratulations message was published for it.",
           "no message for an album that was never committed",
           "on_commit callbacks run only on commit: enqueue through transaction.on_commit "
           "or delay_on_commit.", lesson=STEP_4)
    sent = outbox.wait_for(1, within=HOLD)
    expect(not sent, "An email was sent for an album that was rolled back.", "no email",
           lesson=STEP_4)


@needs(test_orm_album_sends_one_email)
def test_update_sends_nothing(project, celery_app, worker, outbox, published, finished, fake):
    """Saving an existing album again publishes nothing and sends nothing"""
    album = _album(fake)
    created = published.of(TASK)
    album.title = fake.title()
    album.save()
    album.save(update_fields=["title"])
    again = len(published.of(TASK)) - len(created)
    expect(not again, f"Saving an existing album twice published {again} more "
           "send_album_congratulations message(s).", "a message for new albums only",
           "post_save passes created=True only when the row was inserted: return when it "
           "is False.", lesson=STEP_2)
    sent = _emails_after(created, outbox, finished, "a new album")
    expect(len(sent) <= 1, f"The album got {len(sent)} emails: one when it was created, and "
           "more when it was saved again.", "one email, when it was created", lesson=STEP_2)


@needs(test_orm_album_sends_one_email)
def test_fixtures_send_nothing(project, celery_app, worker, outbox, published, fake, tmp_path):
    """Albums loaded from a fixture (loaddata) publish nothing and send nothing"""
    from django.core.management import call_command
    from django.utils import timezone

    from music.models import Album, Artist

    # Ids far above the rows the checks made, so that the fixture adds rows, as a real one does.
    base = max(Artist.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
               Album.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    count = fake.count(1, 3)
    when = timezone.now().isoformat()  # a raw save sets no auto_now_add field itself
    rows = [{"model": "music.artist", "pk": base,
             "fields": {"name": fake.name(), "email": fake.email(), "joined_at": when}}]
    rows += [{"model": "music.album", "pk": base + 1 + i,
              "fields": {"artist": base, "title": fake.title(), "created_at": when}}
             for i in range(count)]
    fixture = tmp_path / "albums.json"
    fixture.write_text(json.dumps(rows))
    call_command("loaddata", str(fixture), verbosity=0)
    messages = published.of(TASK)
    expect(not messages, f"Loading {count} album(s) from a fixture with `manage.py loaddata` "
           f"published {len(messages)} send_album_congratulations message(s).",
           "nothing: loaddata restores rows that already existed somewhere, and their artists "
           "were congratulated then",
           "Django sends post_save with raw=True for rows loaded from a fixture: in the "
           "receiver, return when kwargs['raw'] is true (or take raw as an argument).",
           lesson="#fixtures-raw-saves")
    sent = outbox.wait_for(1, within=HOLD)
    expect(not sent, "An email was sent for an album loaded from a fixture.", "no email",
           lesson="#fixtures-raw-saves")


@needs(test_orm_album_sends_one_email)
def test_several_albums(project, celery_app, worker, client, outbox, published, finished, fake):
    """New albums by the ORM, POST /albums/new/ and the admin: one email each, rightly sent"""
    from django.contrib.auth import get_user_model

    from music.models import Album

    artists = [_artist(fake) for _ in range(fake.count(2, 3))]
    start = len(published.of(TASK))
    admin = get_user_model().objects.create_superuser(fake.token(), fake.email(), None)
    ways = ["orm", "view", "admin", *fake.random.choices(["orm", "view"], k=fake.count(0, 2))]
    fake.random.shuffle(ways)
    albums = []
    for way in ways:
        artist, title = fake.random.choice(artists), fake.title()
        form = {"artist": artist.pk, "title": title}
        if way == "orm":
            Album.objects.create(artist=artist, title=title)
        else:
            if way == "admin":
                client.force_login(admin)
            url = "/albums/new/" if way == "view" else "/admin/music/album/add/"
            response = client.post(url, form)
            expect(response.status_code in (301, 302, 303),
                   f"POST {url} answered {response.status_code}.", "a redirect, as before")
        albums.append(Album.objects.select_related("artist").get(title=title))
    messages = published.of(TASK)[start:]
    for album, way in zip(albums, ways):
        mine = [m for m in messages if _album_id(m) == str(album.pk)]
        where = {"orm": "with Album.objects.create()", "view": "with POST /albums/new/",
                 "admin": "in the admin"}[way]
        expect(mine, f"The album {album.title!r}, created {where}, published no "
               "send_album_congratulations message.", "one message per new album, whatever "
               "created it", "A post_save receiver sees every save(); the admin saves inside "
               "a transaction, so enqueue with on_commit.", lesson=STEP_2)
        expect(len(mine) == 1, f"The album {album.title!r}, created {where}, published "
               f"{len(mine)} messages.", "exactly one per album", lesson=STEP_3)
    sent = _emails_after(messages, outbox, finished, "every album")
    for album in albums:
        _the_email_for(album, sent, finished)
    expect(len(sent) == len(albums), f"{len(albums)} albums got {len(sent)} emails.",
           "one email per album", lesson=STEP_2)

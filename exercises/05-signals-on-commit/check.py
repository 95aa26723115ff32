"""Exercise 05 · Congratulate artists on new albums, after the commit."""

import sys

from grader.harness import expect, fail, needs

TASK = "music.tasks.send_album_congratulations"
HOLD = 0.2  # seconds a check watches for an email that must not come (a task takes ~2 ms)
WITHIN = 5.0  # seconds an email that must come may take


class _Rollback(Exception):
    pass


def _album(fake):
    from music.models import Album, Artist

    artist = Artist.objects.create(name=fake.name(), email=fake.email())
    return Album.objects.create(artist=artist, title=fake.title())


def _the_email_for(album, sent):
    """Fail unless ``sent`` holds exactly one right email for ``album``, from the worker."""
    artist = album.artist
    mine = [s for s in sent if album.title in s.message.subject]
    expect(mine, f"No email's subject names the album: the subjects were "
           f"{[s.message.subject for s in sent]}.", f"a subject that contains {album.title!r}",
           "Put the album's title in the subject.",
           lesson="#step-1-a-task-that-sends-the-congratulations")
    expect(len(mine) == 1, f"{len(mine)} emails arrived for the album {album.title!r}.",
           "exactly one", "Is the receiver connected twice? Give connect() a dispatch_uid.",
           lesson="#step-3-connect-it-in-ready")
    email = mine[0].message
    expect(email.to == [artist.email], f"The email for {album.title!r} went to {email.to}.",
           f"the album's artist, {artist.email}",
           "Send it to album.artist.email.", lesson="#step-1-a-task-that-sends-the-congratulations")
    expect(artist.name in email.body, f"The email for {album.title!r} does not name the artist.",
           f"a body that contains {artist.name!r}",
           lesson="#step-1-a-task-that-sends-the-congratulations")
    expect(mine[0].from_worker, "The email was sent right inside the code that saved the "
           "album, not by the worker.", "the worker to send it, through the task",
           "In the receiver, enqueue send_album_congratulations; don't call send_mail.",
           lesson="#step-2-a-receiver-for-new-albums")


def _urls_make_it_work(fake, published) -> bool:
    """After loading the URL conf (and with it music/views.py), does a new album enqueue?"""
    from django.urls import get_resolver

    get_resolver().url_patterns  # imports config/urls.py and every view module
    before = len(published.of(TASK))
    _album(fake)
    return len(published.of(TASK)) > before


def test_task_is_shared(project, celery_app):
    """music.tasks.send_album_congratulations is a @shared_task"""
    task = project.task(TASK, exercise="05", lesson="#step-1-a-task-that-sends-the-congratulations",
                        expected="@shared_task def send_album_congratulations(album_id) in "
                        "music/tasks.py")
    problem = project.not_shared(task, celery_app)
    expect(problem is None, f"send_album_congratulations {problem}.",
           "@shared_task", lesson="02-offload-feedback-email.md#step-2-why-shared_task")


def test_orm_album_sends_one_email(project, celery_app, worker, outbox, published, fake):
    """An album made with the ORM, before any page loads, sends its artist one email"""
    # The first thing this checker does with the project: no URL conf and no view is loaded,
    # as in a worker, the shell or a management command.
    views_loaded = "config.urls" in sys.modules or "music.views" in sys.modules
    album = _album(fake)
    messages = published.of(TASK)
    early = [s for s in outbox.sent if not s.from_worker]
    expect(not early, "The email was sent right inside Album.objects.create(), not by a worker.",
           "a send_album_congratulations message; the worker sends the email",
           "In the receiver, enqueue the task; don't call send_mail.",
           lesson="#step-2-a-receiver-for-new-albums")
    if not messages:
        if not views_loaded and _urls_make_it_work(fake, published):
            fail("Creating an Album published no send_album_congratulations message until "
                 "this check loaded your URLs (and with them music/views.py): the receiver "
                 "is connected only because views.py imports it, an accident of import order. "
                 "A worker, the shell or a management command never loads the views, so their "
                 "albums get no email.",
                 "the receiver connected in MusicConfig.ready(), whatever is imported first",
                 "In music/apps.py: def ready(self): from . import signals (or connect it "
                 "there); remove the import from views.py.", lesson="#step-3-connect-it-in-ready")
        fail("Creating an Album with Album.objects.create() published no "
             "send_album_congratulations message, and no email was sent.",
             "one message per new album, from a post_save receiver, whatever creates the album "
             "(the view, the admin, the shell)",
             "A receiver catches every save; code in one view catches only that view.",
             lesson="#step-2-a-receiver-for-new-albums")
    expect(len(messages) == 1, f"One new album published {len(messages)} messages.",
           "exactly one", "Is the receiver connected twice? Give connect() a dispatch_uid.",
           lesson="#step-3-connect-it-in-ready")
    sent = outbox.wait_for(1, within=WITHIN)
    expect(sent, f"No email arrived within {WITHIN:g} s of creating the album.",
           "the worker to send one", "Read the worker's log: did the task fail? Did you "
           "restart the worker after adding the task?", lesson="#see-it-work")
    _the_email_for(album, outbox.settle(quiet=0.05, within=1))


@needs(test_orm_album_sends_one_email)
def test_nothing_before_the_commit(project, celery_app, worker, outbox, published, fake):
    """Inside an open transaction nothing is sent; after the commit, one email"""
    from django.db import transaction

    start = len(published.of(TASK))
    with transaction.atomic():
        album = _album(fake)
        expect(len(published.of(TASK)) == start,
               "send_album_congratulations was published while the transaction that creates "
               "the album was still open. The worker can run it before the commit, when "
               "Album.objects.get() raises Album.DoesNotExist (on SQLite, sometimes 'database "
               "table is locked'), and the admin, which saves inside a transaction, would "
               "lose its emails.",
               "the message published only after the commit",
               "transaction.on_commit(lambda: send_album_congratulations.delay(album_id)), or "
               "send_album_congratulations.delay_on_commit(album_id)",
               lesson="#step-4-enqueue-after-the-commit")
        sent = outbox.wait_for(1, within=HOLD)
        expect(not sent, "An email was sent while the album's transaction was still open.",
               "nothing until the commit", lesson="#step-4-enqueue-after-the-commit")
    expect(len(published.of(TASK)) == start + 1,
           f"After the commit, {len(published.of(TASK)) - start} messages were published.",
           "exactly one, right after the commit", lesson="#step-4-enqueue-after-the-commit")
    sent = outbox.wait_for(1, within=WITHIN)
    expect(sent, f"No email arrived within {WITHIN:g} s of the commit.", "one email",
           lesson="#step-4-enqueue-after-the-commit")
    _the_email_for(album, outbox.settle(quiet=0.05, within=1))


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
           "or delay_on_commit.", lesson="#step-4-enqueue-after-the-commit")
    sent = outbox.wait_for(1, within=HOLD)
    expect(not sent, "An email was sent for an album that was rolled back.", "no email",
           lesson="#step-4-enqueue-after-the-commit")


@needs(test_orm_album_sends_one_email)
def test_update_sends_nothing(project, celery_app, worker, outbox, published, fake):
    """Saving an existing album again publishes nothing and sends nothing"""
    album = _album(fake)
    start = len(published.of(TASK))
    album.title = fake.title()
    album.save()
    album.save(update_fields=["title"])
    again = len(published.of(TASK)) - start
    expect(not again, f"Saving an existing album twice published {again} more "
           "send_album_congratulations message(s).", "a message for new albums only",
           "post_save passes created=True only when the row was inserted: return when it "
           "is False.", lesson="#step-2-a-receiver-for-new-albums")
    sent = outbox.wait_for(2, within=HOLD)  # the first is the congratulations for the new album
    expect(len(sent) <= 1, f"The album got {len(sent)} emails: one when it was created, and "
           "more when it was saved again.", "one email, when it was created",
           lesson="#step-2-a-receiver-for-new-albums")


@needs(test_orm_album_sends_one_email)
def test_several_albums(project, celery_app, worker, client, outbox, published, fake):
    """New albums by the ORM, POST /albums/new/ and the admin: one email each, rightly sent"""
    from django.contrib.auth import get_user_model

    from music.models import Album, Artist

    artists = [Artist.objects.create(name=fake.name(), email=fake.email())
               for _ in range(fake.count(2, 3))]
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
    sent = outbox.wait_for(len(albums), within=WITHIN)
    expect(len(sent) >= len(albums), f"{len(albums)} albums were created ({', '.join(ways)}), "
           f"and {len(sent)} emails arrived within {WITHIN:g} s.", "one email per album",
           lesson="#step-2-a-receiver-for-new-albums")
    sent = outbox.settle(quiet=0.05, within=1)
    for album in albums:
        _the_email_for(album, sent)
    expect(len(sent) == len(albums), f"{len(albums)} albums got {len(sent)} emails.",
           "one email per album", lesson="#step-2-a-receiver-for-new-albums")

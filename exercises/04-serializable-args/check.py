"""Exercise 04 · Fetch the genres on a worker, passing the artist's id."""

import time
from urllib.parse import urlsplit

import pytest
from kombu.exceptions import EncodeError

from grader.harness import expect, fail, guard, needs, timed
from grader.harness.published import sent_instead
from grader.harness.finished import Finished, explain

FAST = 0.5  # seconds the registration may take; the playlist API takes 1 s per answer
TASK = "music.tasks.fetch_spotify_genres"
PICKLE = {"pickle", "application/x-python-serialize"}
registered = {}  # what the registration with a playlist URL did, for the checks that follow


@pytest.fixture(scope="module")
def finished():
    """How the worker ended each task message, for the whole checker."""
    with Finished() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def in_transaction():
    """The ids of the task messages published while a database transaction was still open."""
    from celery.signals import before_task_publish
    from django.db import connection

    ids = set()

    def record(headers=None, **_):
        if connection.in_atomic_block:
            ids.add((headers or {}).get("id"))

    before_task_publish.connect(record, weak=False)
    yield ids
    before_task_publish.disconnect(record)


def _task(project):
    return project.task(TASK, exercise="04", lesson="#step-1-a-task-that-takes-an-id",
                        expected="@shared_task def fetch_spotify_genres(artist_id) in "
                        "music/tasks.py")


def _is_json(value) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _is_the_id(value, pk) -> bool:
    """The artist's primary key as a plain JSON value: 7, or "7" (the task's pk= lookup takes
    either, as Django's URLs and forms give it)."""
    return (isinstance(value, (int, str)) and not isinstance(value, bool)
            and str(value) == str(pk))


def _register(client, fake, playlist_url=""):
    form = {"name": fake.name(), "email": fake.email(), "spotify_playlist_url": playlist_url}
    began = time.monotonic()
    try:
        response = client.post("/artists/register/", form)
    except EncodeError as exc:
        fail(f"Registering raised kombu.exceptions.EncodeError in the view: {exc}. The task's "
             "arguments could not be turned into JSON, so no message was sent.",
             "plain JSON arguments: fetch_spotify_genres.delay(artist.pk), the artist's id",
             "Pass artist.pk, never the Artist itself; the task loads the artist from the "
             "database.", lesson="#the-encodeerror-you-will-meet")
    took = time.monotonic() - began
    expect(response.status_code in (301, 302, 303)
           and urlsplit(response.url).path.rstrip("/").endswith("/artists"),
           f"Registering answered {response.status_code}"
           + (f", to {response.url}" if response.has_header("Location") else "") + ".",
           "a redirect to /artists/, as before")
    from music.models import Artist
    artist = Artist.objects.filter(email=form["email"]).first()
    expect(artist, f"Registering {form['name']} redirected, and saved no artist.",
           "the artist saved, as before (form.save())")
    return artist, took, began


def test_task_is_shared(project, celery_app):
    """music.tasks.fetch_spotify_genres is a @shared_task"""
    problem = project.not_shared(_task(project), celery_app)
    expect(problem is None, f"fetch_spotify_genres {problem}.",
           "@shared_task, so the music app works with any Celery app",
           lesson="02-offload-feedback-email.md#step-2-why-shared_task")


@guard  # Celery's defaults are JSON only: the project passes this before exercise 04
def test_no_pickle_anywhere(project, celery_app):
    """Only JSON is accepted: no pickle in the serializers or the accepted content"""
    conf = celery_app.conf
    accepted = {"CELERY_ACCEPT_CONTENT": conf.accept_content,
                "CELERY_RESULT_ACCEPT_CONTENT": conf.result_accept_content or []}
    for name, value in accepted.items():
        expect(not PICKLE & set(value or []), f"{name} is {list(value)}: a worker or a client "
               "would unpickle what it receives, and unpickling runs whatever code the message "
               "asks for.", f'{name} = ["json"] (or no {name} at all: JSON is the default)',
               "Pickle is no cure for an EncodeError: pass the artist's id instead.",
               lesson="#why-not-pickle")
    for name in ("task_serializer", "result_serializer"):
        value = conf[name]
        expect(value not in PICKLE, f"CELERY_{name.upper()} is {value!r}.",
               f'CELERY_{name.upper()} = "json" (the default)', lesson="#why-not-pickle")


@needs(test_task_is_shared)
def test_worker_refuses_pickle(project, celery_app, worker, received):
    """The worker refuses a pickle message for fetch_spotify_genres, and runs nothing"""
    from music.models import Artist

    missing = (Artist.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    try:
        message = _task(project).apply_async(args=(missing,), serializer="pickle")
    except EncodeError as exc:
        fail(f"Celery could not even write a pickle message: {exc}.",
             "a pickle message on the broker, for the worker to refuse")
    outcome = received.wait_for(message.id, within=5)
    expect(outcome is not None, "This check sent fetch_spotify_genres a pickle-serialized "
           "message, and the worker neither ran nor refused it within 5 s.",
           "the worker to refuse it at once", "Is the worker consuming? See lesson 01.")
    expect(isinstance(outcome, str), "This check sent fetch_spotify_genres a pickle-serialized "
           "message, and the worker unpickled it and ran the task. Anyone who can write to "
           "your broker could make it run any code.",
           'a worker that accepts JSON only: CELERY_ACCEPT_CONTENT = ["json"]',
           lesson="#why-not-pickle")


@timed
def test_registration_answers_at_once(project, celery_app, worker, client, playlist_api,
                                      published, received, finished, in_transaction, fake):
    """Registering with a playlist URL redirects at once, and enqueues one task"""
    from music.models import Artist

    for _ in range(fake.count(1, 3)):  # other artists, so that "the wrong artist" shows
        Artist.objects.create(name=fake.name(), email=fake.email())
    client.get("/artists/register/")  # loads the URLs, the view and its template: not timed
    playlist = playlist_api.new_playlist()
    artist, took, began = _register(client, fake, playlist)
    messages = published.of(TASK)
    if took >= FAST:
        waited = any(a.answered and a.answered <= began + took
                     for a in playlist_api.asked_since(began))
        why = ("the view waited for the playlist API" if messages and waited
               else "something in the view is slow" if messages
               else "the view still calls the playlist API (fetch_playlist_genres) while the "
               "visitor waits")
        fail(f"Registering with a playlist URL took {took:.1f} s"
             + (", and the page came only after the API had answered" if waited else "")
             + f": {why}.",
             f"an answer in under {FAST} s, with a worker asking the API afterwards",
             "In the view, call fetch_spotify_genres.delay_on_commit(artist.pk) instead of "
             "fetch_playlist_genres(...), and never .get() its result.",
             lesson="#step-2-enqueue-it-from-the-view", timing=not waited)
    expect(messages, "Registering with a playlist URL answered at once, and published no "
           "fetch_spotify_genres message." + sent_instead(celery_app, published.messages),
           "exactly one, for the new artist: fetch_spotify_genres.delay_on_commit(artist.pk)",
           lesson="#step-2-enqueue-it-from-the-view")
    expect(len(messages) == 1, f"Registering published {len(messages)} fetch_spotify_genres "
           "message(s).", "exactly one, for the new artist",
           lesson="#step-2-enqueue-it-from-the-view")
    expect(messages[0].id not in in_transaction, "fetch_spotify_genres was published while "
           "the request's transaction (ATOMIC_REQUESTS) was still open: the worker can look "
           "for the artist before the commit and not find it.",
           "the message published after the commit",
           "fetch_spotify_genres.delay_on_commit(artist.pk), or transaction.on_commit(...)",
           lesson="#step-2-enqueue-it-from-the-view")
    registered.update(artist=artist, message=messages[0], playlist=playlist, began=began,
                      seen=received.wait_for(messages[0].id, within=5))


@needs(test_registration_answers_at_once)
def test_message_is_json_with_the_id(project):
    """The message is JSON, and its only argument is the artist's id"""
    artist, message, seen = registered["artist"], registered["message"], registered["seen"]
    arguments = ", ".join([*map(repr, message.args),
                           *(f"{k}={v!r}" for k, v in message.kwargs.items())])
    expect(_is_json([list(message.args), message.kwargs]),
           f"The task was called with ({arguments}): that is not plain JSON.",
           f"the artist's id, a plain number: fetch_spotify_genres.delay({artist.pk})",
           "Pass artist.pk; the task reads the artist from the database.",
           lesson="#step-1-a-task-that-takes-an-id")
    expect(len(message.args) == 1 and not message.kwargs
           and _is_the_id(message.args[0], artist.pk)
           or set(message.kwargs) == {"artist_id"} and not message.args
           and _is_the_id(message.kwargs["artist_id"], artist.pk),
           f"The new artist's id is {artist.pk}, and the task was called with ({arguments})"
           + (": the artist had no id yet, so it was enqueued before the artist was saved "
              "(form.save(commit=False)?)." if None in [*message.args, *message.kwargs.values()]
              else "."),
           f"fetch_spotify_genres.delay({artist.pk}) (or artist_id={artist.pk})",
           "Enqueue after the artist is saved, with its id." if None in
           [*message.args, *message.kwargs.values()] else None,
           lesson="#step-1-a-task-that-takes-an-id")
    expect(seen is not None, "The worker did not take the message within 5 s.",
           "the worker to receive it at once")
    expect(not isinstance(seen, str), f"The worker refused the message: {seen}.",
           "a JSON message, which the worker accepts", lesson="#why-not-pickle")
    expect(seen.content_type == "application/json",
           f"The message reached the worker as {seen.content_type}.",
           "application/json", lesson="#why-not-pickle")


# Before exercise 04 a registration without a URL enqueues nothing either: this proves something
# only once a registration with one enqueues.
@needs(test_registration_answers_at_once)
def test_registration_without_url_enqueues_nothing(project, celery_app, client, playlist_api,
                                                   published, fake):
    """Registering without a playlist URL enqueues nothing and never asks the API"""
    # This runs while the worker is still waiting for the API's answer to the registration.
    before = time.monotonic()
    artist, took, _ = _register(client, fake)
    expect(not published.messages, f"Registering {artist.name}, who gave no playlist URL, "
           f"published {len(published.messages)} task message(s).",
           "nothing enqueued when there is no playlist to read",
           "Keep the `if artist.spotify_playlist_url:` around the call.",
           lesson="#step-2-enqueue-it-from-the-view")
    others = [a for a in playlist_api.asked_since(before)
              if a.playlist_url != registered.get("playlist")]
    expect(not others, "Registering without a playlist URL asked the playlist API "
           f"{len(others)} time(s).", "no question to the API when there is no playlist",
           lesson="#step-2-enqueue-it-from-the-view")


@needs(test_registration_answers_at_once)
def test_worker_stores_the_genres(project, playlist_api, finished):
    """The worker stores the playlist's genres on the right artist"""
    from music.models import Artist

    artist, playlist, message = registered["artist"], registered["playlist"], registered["message"]
    wanted = playlist_api.genres_for(playlist)
    within = playlist_api.delay + 5
    # Judge once the task has ended: what it stores is in the database by then, on any load.
    ended = finished.wait([message.id], registered["began"] + within - time.monotonic())
    ended = ended.get(message.id)
    genres = Artist.objects.get(pk=artist.pk).genres
    if genres != wanted and (ended is None or ended.error or ended.state == "UNKNOWN"):
        fail(f"{artist.name}'s genres in the database are {genres}. "
             + explain(ended, "fetch_spotify_genres"),
             f"the task to end well, with genres {wanted} saved on {artist.name}",
             "Run `celery -A config worker -l info` and register an artist: the worker's log "
             "shows what went wrong.", lesson="#step-3-see-it-work")
    asked = [a for a in playlist_api.asked if a.playlist_url == playlist]
    expect(asked, f"The playlist API was never asked about {playlist} within {within:g} s.",
           "the worker to ask it, in fetch_spotify_genres",
           "Read the worker's log (`celery -A config worker -l info`): did the task raise? "
           "Does it call fetch_playlist_genres(artist.spotify_playlist_url)?",
           lesson="#step-3-see-it-work")
    strays = [a.name for a in Artist.objects.exclude(pk=artist.pk) if a.genres == wanted]
    after = ("once the task had ended" if ended and ended.state != "UNKNOWN" else
             f"{within:g} s after registering")
    expect(genres == wanted, f"The API answered {wanted} for {artist.name}'s playlist, and "
           f"{after}, {artist.name}'s genres in the database are {genres}"
           + (f", while {', '.join(strays)} got them." if strays else "."),
           f"genres {wanted} saved on {artist.name}, whose id the message carries",
           "In the task, load the artist with the id it receives and save the genres on that "
           "artist: Artist.objects.filter(pk=artist_id, spotify_playlist_url=playlist_url)"
           ".update(genres=genres), as the lesson does (or artist.genres = genres, then "
           'artist.save(update_fields=["genres"])).',
           lesson="#step-1-a-task-that-takes-an-id")
    expect(not strays, f"{artist.name} got the right genres, and so did: {', '.join(strays)}.",
           f"only {artist.name}, whose id the message carries",
           "Save on the one artist: Artist.objects.get(pk=artist_id), not a queryset of many.",
           lesson="#step-1-a-task-that-takes-an-id")

"""Exercise 06 · Beat: remind inactive artists every 24 hours."""

from datetime import datetime, timedelta, timezone

from grader.harness import expect, fail, needs
from grader.harness.schedule import schedule_entry

ENTRY = "remind-inactive-artists"
DAY = timedelta(hours=24)
WITHIN = 10  # seconds the task may take on the worker
RULE = ("An artist is inactive when their newest album is more than 30 days old, or when they "
        "have no album and joined more than 30 days ago.")
ran = {}  # what the task run found, for the return-value check


def _task(project):
    return project.task("music.tasks.remind_inactive_artists", exercise="04",
                        expected="@shared_task def remind_inactive_artists() in music/tasks.py",
                        lesson="#step-1-the-reminder-task")


def _span(delta: timedelta) -> str:
    """A duration as a person says it: 23 h 59 min, 24 min, 2 days."""
    minutes = round(delta.total_seconds() / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} day{'s' * (days != 1)}"] * bool(days)
    parts += [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts) or "0 min"


def test_task_exists(project, celery_app):
    """music.tasks.remind_inactive_artists is a Celery task"""
    _task(project)


@needs(test_task_exists)
def test_schedule_entry(project, celery_app):
    """CELERY_BEAT_SCHEDULE["remind-inactive-artists"] sends that task"""
    schedule_entry(celery_app, ENTRY, _task(project), "timedelta(hours=24)",
                   lesson="#step-2-a-schedule-entry-every-24-hours")


@needs(test_schedule_entry)
def test_beat_sends_it_every_24_hours(celery_app, beat, fake):
    """Beat sends it 24 hours after it starts, not before, then once a day"""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(
        seconds=fake.random.randrange(2 * 365 * 24 * 3600))
    clock = beat(start)

    def sends(duration):
        return [s.at for s in clock.run_for(duration) if s.entry == ENTRY]

    early = sends(DAY - timedelta(minutes=1))
    expect(not early, f"On a simulated clock, beat sent {ENTRY} {len(early)} time"
           f"{'s' * (len(early) != 1)} in its first 23 h 59 min, the first "
           f"{_span(early[0] - start) if early else ''} after it started.",
           "nothing until 24 hours have passed: \"schedule\": timedelta(hours=24) "
           "(or 86400, in seconds)",
           "timedelta(minutes=24) is 24 minutes, and a bare number counts seconds.",
           lesson="#step-2-a-schedule-entry-every-24-hours")
    due = sends(timedelta(minutes=2))
    expect(len(due) == 1, f"Beat sent {ENTRY} {len(due)} times between 23 h 59 min and "
           "24 h 1 min after it started.", "exactly one send, 24 hours after beat started",
           "An interval schedule runs first one interval after beat starts.",
           lesson="#step-2-a-schedule-entry-every-24-hours")
    week = [*due, *sends(6 * DAY)]
    gaps = {_span(later - earlier) for earlier, later in zip(week, week[1:])}
    expect(len(week) == 7 and gaps == {"1 day"},
           f"Over 7 simulated days beat sent {ENTRY} {len(week)} times"
           + (f", {' / '.join(sorted(gaps))} apart." if gaps else "."),
           "7 sends, each 24 hours after the one before",
           lesson="#step-2-a-schedule-entry-every-24-hours")


def _artists(fake):
    """Artists on both sides of the 30-day line: {artist: why it should or should not be emailed}.

    Timestamps are set with update(), since joined_at and created_at are auto_now_add; albums
    are made with bulk_create, which sends no signal (no congratulations emails from lesson 05).
    """
    from django.utils import timezone as django_time

    from music.models import Album, Artist

    now = django_time.now()
    rng = fake.random

    def days(low, high):
        return timedelta(days=rng.uniform(low, high))

    plans = []  # (emailed?, joined this long ago, [albums this old], why)
    for _ in range(rng.randint(1, 2)):
        ages = sorted((days(31, 90) for _ in range(rng.randint(2, 3))), reverse=True)
        why = f"whose newest album is {ages[-1].days} days old"
        plans.append((True, days(120, 400), ages, why))
    for _ in range(rng.randint(1, 2)):
        newest, oldest = days(20, 29), days(50, 80)
        plans.append((False, days(120, 400), [oldest, newest],
                      f"whose newest album is {newest.days} days old (and an older one "
                      f"{oldest.days} days old)"))
    for _ in range(rng.randint(1, 2)):
        joined = days(31, 200)
        plans.append((True, joined, [], f"who has no album and joined {joined.days} days ago"))
    for _ in range(rng.randint(1, 2)):
        joined = days(1, 29)
        plans.append((False, joined, [], f"who has no album and joined {joined.days} days ago"))
    rng.shuffle(plans)
    artists = {}
    for emailed, joined, ages, why in plans:
        name = fake.name()
        artist = Artist.objects.create(name=name, email=fake.email(name))
        Artist.objects.filter(pk=artist.pk).update(joined_at=now - joined)
        albums = Album.objects.bulk_create(
            [Album(artist=artist, title=fake.title()) for _ in ages])
        for album, age in zip(albums, ages):
            Album.objects.filter(pk=album.pk).update(created_at=now - age)
        artists[artist] = (emailed, why)
    return artists


@needs(test_task_exists)
def test_emails_inactive_artists_once(project, celery_app, worker, empty_db, outbox, fake):
    """It emails each artist with nothing new for 30 days, once, and nobody else"""
    artists = _artists(fake)
    try:
        value = _task(project).delay().get(timeout=WITHIN)
    except Exception as exc:
        fail(f"The task did not succeed within {WITHIN} s ({type(exc).__name__}: {exc}).",
             "the worker to run remind_inactive_artists and return",
             lesson="#step-1-the-reminder-task")
    counts = {artist: sum(artist.email in email.recipients() for email in outbox.messages)
              for artist in artists}
    for artist, count in counts.items():
        expect(count <= 1, f"{artist.name}, {artists[artist][1]}, got {count} emails.",
               "exactly one email per inactive artist, however many albums they have",
               "Loop over artists, not albums: one email each.",
               lesson="#step-1-the-reminder-task")
    for artist, count in counts.items():
        emailed, why = artists[artist]
        expect(count or not emailed, f"No email went to {artist.name} ({artist.email}), {why}.",
               "one email to every inactive artist", RULE, lesson="#step-1-the-reminder-task")
        expect(emailed or not count, f"{artist.name}, {why}, got an email.",
               "no email for an artist with an album in the last 30 days, or who joined less "
               "than 30 days ago", RULE + ' Count from the newest album: '
               'Max("albums__created_at").', lesson="#step-1-the-reminder-task")
    ran.update(value=value, count=sum(emailed for emailed, _ in artists.values()))


@needs(test_emails_inactive_artists_once)
def test_returns_how_many():
    """It returns how many artists it emailed"""
    expect(ran["value"] == ran["count"],
           f"It emailed {ran['count']} artists and returned {ran['value']!r}.",
           f"{ran['count']}, the number of artists emailed",
           "Count the emails as you send them, and return the count: beat's log and Flower "
           "show what a task returns.", lesson="#step-1-the-reminder-task")

"""Exercise 06 · Beat: remind inactive artists every 24 hours, once per inactivity period."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from numbers import Real

from django.db import transaction

from grader.harness import expect, fail, needs
from grader.harness.clock import ProjectClock
from grader.harness.schedule import schedule_entry

ENTRY = "remind-inactive-artists"
DAY = timedelta(hours=24)
PERIOD = timedelta(days=30)
MARGIN = timedelta(minutes=30)  # no fixture sits closer than this to a 30-day line
WITHIN = 10  # seconds the task may take on the worker
RULE = ("An artist is inactive when their newest album is more than 30 days old, or when they "
        "have no album and joined more than 30 days ago.")
TASK_LESSON = "#step-1-the-reminder-task"
ONCE_LESSON = "#step-2-once-per-inactivity-period"
ran: dict = {}  # what the first run found, for the checks after it


def _task(project):
    return project.task("music.tasks.remind_inactive_artists", exercise="04",
                        expected="@shared_task def remind_inactive_artists() in music/tasks.py",
                        lesson=TASK_LESSON)


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
                   lesson="#step-3-a-schedule-entry-every-24-hours")


def _start(fake) -> datetime:
    return datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(
        seconds=fake.random.randrange(2 * 365 * 24 * 3600))


@needs(test_schedule_entry)
def test_beat_sends_it_every_24_hours(celery_app, beat, fake):
    """Beat sends it 24 hours after it starts, not before, then once a day"""
    from celery.schedules import crontab

    schedule = ((celery_app.conf.beat_schedule or {}).get(ENTRY) or {}).get("schedule")
    if isinstance(schedule, crontab):
        fail(f"The entry's schedule is a crontab ({schedule}): it runs at a time of day, "
             "whenever beat started, so the first reminder can come minutes after a deploy.",
             "an interval: \"schedule\": timedelta(hours=24), which runs 24 hours after beat "
             "starts, then every 24 hours",
             "Crontab schedules are for fixed times (lesson 07's Monday digest).",
             lesson="#step-3-a-schedule-entry-every-24-hours")
    start = _start(fake)
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
           lesson="#step-3-a-schedule-entry-every-24-hours")
    due = sends(timedelta(minutes=2))
    expect(len(due) == 1, f"Beat sent {ENTRY} {len(due)} times between 23 h 59 min and "
           "24 h 1 min after it started.", "exactly one send, 24 hours after beat started",
           "An interval schedule runs first one interval after beat starts.",
           lesson="#step-3-a-schedule-entry-every-24-hours")
    week = [*due, *sends(6 * DAY)]
    gaps = {_span(later - earlier) for earlier, later in zip(week, week[1:])}
    expect(len(week) == 7 and gaps == {"1 day"},
           f"Over 7 simulated days beat sent {ENTRY} {len(week)} times"
           + (f", {' / '.join(sorted(gaps))} apart." if gaps else "."),
           "7 sends, each 24 hours after the one before",
           lesson="#step-3-a-schedule-entry-every-24-hours")


@needs(test_schedule_entry)
def test_a_late_run_is_dropped(celery_app, beat, fake):
    """Beat sends it with an expires, shorter than a day: a late run is dropped"""
    clock = beat(_start(fake))
    sends = [s for s in clock.run_for(DAY + timedelta(minutes=1)) if s.entry == ENTRY]
    if not sends:
        fail(f"Beat did not send {ENTRY} in 24 hours, so its options could not be read.",
             "one send a day (see the check above)", lesson="#step-3-a-schedule-entry-every-24-hours")
    expires = sends[0].options.get("expires")
    lesson = "#a-late-run-is-dropped-expires"
    example = '"options": {"expires": 12 * 60 * 60}'
    expect(expires is not None, f"Beat sends {ENTRY} with no expires: a message that waits "
           "for a worker (one that is down, or busy) runs however late it is.",
           f"{example} in the entry, a number of seconds shorter than the 24-hour interval",
           "Put it under \"options\": a key \"expires\" next to \"schedule\" is not read.",
           lesson=lesson)
    if isinstance(expires, timedelta):
        fail(f"The entry's expires is a timedelta ({expires}): Celery's apply_async takes a "
             "number of seconds there, and fails on a timedelta when beat sends it.",
             example, "Write the seconds: 12 * 60 * 60, or timedelta(hours=12).total_seconds().",
             lesson=lesson)
    if not isinstance(expires, Real) or isinstance(expires, bool):
        fail(f"The entry's expires is {expires!r}: a fixed moment (or a string) expires every "
             "later run as well.", f"{example}: seconds, counted from each send",
             lesson=lesson)
    expect(60 <= expires < DAY.total_seconds(),
           f"The entry's expires is {expires:g} seconds ({_span(timedelta(seconds=expires))}).",
           "between a minute and less than 24 hours: long enough for a busy worker, shorter "
           "than the interval, so a run that missed its day gives way to the next one",
           lesson=lesson)


@dataclass(eq=False)  # each artist is itself: hashed by identity
class _Artist:
    pk: int
    name: str
    email: str
    joined: datetime
    albums: list = field(default_factory=list)
    reminded: datetime | None = None
    why: str = ""

    def newest(self):
        return max(self.albums, default=None)

    def due(self, now: datetime) -> bool:
        """The contract's rule: inactive, and not reminded in the last 30 days."""
        inactive = (self.newest() or self.joined) < now - PERIOD
        return inactive and (self.reminded is None or self.reminded < now - PERIOD)

    def close_to_a_line(self, now: datetime) -> bool:
        stamps = [self.newest() or self.joined] + [self.reminded] * bool(self.reminded)
        return any(abs(stamp - (now - PERIOD)) < MARGIN for stamp in stamps)

    def describe(self, now: datetime) -> str:
        newest = self.newest()
        text = (f"whose newest album is {_span(now - newest)} old" if newest else
                f"who has no album and joined {_span(now - self.joined)} ago")
        if self.reminded:
            text += f", reminded {_span(now - self.reminded)} ago"
        return text


def _make(fake, now, joined, ages, reminded=None, has_field=True):
    """One artist at ``now``: joined that long ago, albums of those ages, reminded then.

    Timestamps are set with update(), since joined_at and created_at are auto_now_add; albums
    are made with bulk_create, which sends no signal (no congratulations emails from lesson 05).
    """
    from music.models import Album, Artist

    name = fake.name()
    artist = Artist.objects.create(name=name, email=fake.email(name))
    Artist.objects.filter(pk=artist.pk).update(joined_at=now - joined)
    albums = Album.objects.bulk_create([Album(artist=artist, title=fake.title()) for _ in ages])
    for album, age in zip(albums, ages):
        Album.objects.filter(pk=album.pk).update(created_at=now - age)
    if reminded is not None:
        Artist.objects.filter(pk=artist.pk).update(last_reminded_at=now - reminded)
    return _Artist(artist.pk, name, artist.email, now - joined, [now - age for age in ages],
                   None if reminded is None else now - reminded)


def _world(fake, now, real):
    """Artists on both sides of each 30-day line, none reminded yet; counts vary with the seed.

    Two more sit on either side of the line as the real clock (``real``) draws it, days away
    from the checker's: a cutoff computed at import time shows by emailing one and not the other.
    """
    rng = fake.random
    edge_out, edge_in = PERIOD + timedelta(hours=1), PERIOD - timedelta(hours=1)

    def days(low, high):
        return timedelta(days=rng.uniform(low, high))

    def joined():
        return days(120, 400)

    plans = [(joined(), [days(60, 90), edge_out]), (joined(), [days(45, 90), edge_in]),
             (edge_out, []), (edge_in, [])]
    plans += [(joined(), sorted([days(31, 90) for _ in range(rng.randint(1, 3))]))
              for _ in range(rng.randint(0, 3))]
    plans += [(joined(), [days(40, 90), days(1, 29)]) for _ in range(rng.randint(0, 2))]
    plans += [(days(31, 200), []) for _ in range(rng.randint(0, 2))]
    plans += [(days(1, 29), []) for _ in range(rng.randint(0, 2))]
    plans += [(joined(), [now - real + PERIOD + timedelta(days=2)]),
              (joined(), [now - real + PERIOD - timedelta(days=2)])]
    rng.shuffle(plans)
    with transaction.atomic():  # one commit for them all: each write alone would be one each
        return [_make(fake, now, joined, ages) for joined, ages in plans]


def _run(project, outbox, clock, now, artists):
    """Run the task on the worker with the clock at ``now``: (its value, {artist: emails})."""
    clock.set(now)
    before = len(outbox.messages)
    try:
        value = _task(project).delay().get(timeout=WITHIN)
    except Exception as exc:
        fail(f"The task did not succeed within {WITHIN} s ({type(exc).__name__}: {exc}).",
             "the worker to run remind_inactive_artists and return", lesson=TASK_LESSON)
    sent = outbox.messages[before:]
    return value, {a: sum(a.email in e.recipients() for e in sent) for a in artists}


def _judge(counts, now, *, lesson, hint_missing, hint_extra, observed_at=""):
    """Every artist due got one email and nobody else did; the model then records reminders."""
    for artist, count in counts.items():
        expect(count <= 1, f"{artist.name}, {artist.describe(now)}, got {count} emails"
               f"{observed_at}.", "one email per inactive artist, however many albums they have",
               "Loop over artists, not albums: one email each.", lesson=lesson)
    for artist, count in counts.items():
        expect(count or not artist.due(now), f"No email went to {artist.name}{observed_at}, "
               f"{artist.describe(now)}.", "one email to every inactive artist not reminded in "
               "the last 30 days", hint_missing, lesson=lesson)
        expect(not count or artist.due(now), f"{artist.name}, {artist.describe(now)}, got an "
               f"email{observed_at}.", "no email for an artist with an album in the last 30 "
               "days, who joined less than 30 days ago, or was reminded less than 30 days ago",
               hint_extra, lesson=lesson)
    for artist in counts:
        if artist.due(now):
            artist.reminded = now


def _stored_reminders(artists) -> dict:
    """{pk: last_reminded_at} as the task stored it ({} while the field does not exist)."""
    if not _has_field():
        return {}
    from music.models import Artist
    return dict(Artist.objects.filter(pk__in=[a.pk for a in artists])
                .values_list("pk", "last_reminded_at"))


def _database_clock(artists) -> bool:
    """Whether the task stored the real time (the database's own clock, asked in raw SQL)
    instead of timezone.now()."""
    real = datetime.now(timezone.utc)
    stored = [v for v in _stored_reminders(artists).values() if v is not None]
    return bool(stored) and all(abs(v - real) < timedelta(minutes=5) for v in stored)


def _first_moment(fake) -> datetime:
    """The checker's "now": days or months away from the real one, so a cutoff computed when
    the module was imported (with the real clock) is wrong by that much."""
    rng = fake.random
    away = timedelta(days=rng.uniform(4, 300), seconds=rng.randrange(86400))
    real = datetime.now(timezone.utc).replace(microsecond=0)
    return real + away if rng.random() < 0.5 else real - away


@needs(test_task_exists)
def test_emails_inactive_artists_once(project, celery_app, worker, empty_db, outbox, fake):
    """It emails each artist with nothing new for 30 days, once, and nobody else"""
    now = _first_moment(fake)
    clock = ProjectClock(project.path, now)
    real = datetime.now(timezone.utc)
    with clock:
        artists = _world(fake, now, real)
        value, counts = _run(project, outbox, clock, now, artists)
    wrong = {a for a, c in counts.items() if bool(c) != a.due(now)}
    if wrong and all(bool(c) == ((a.newest() or a.joined) < real - PERIOD)
                     for a, c in counts.items()):
        fail(f"With the clock set to {now:%d %b %Y %H:%M} UTC, your task emailed the artists "
             f"inactive on {real:%d %b %Y} (today), not those inactive then.",
             "the 30 days counted back from timezone.now(), read each time the task runs",
             "Compute the cutoff inside the task: a value computed when the module is imported "
             "(at the top of tasks.py, or as a default argument) stays the same for weeks on a "
             "worker. Read the time with django.utils.timezone.now() (this check sets its "
             "clock, and datetime.now()'s, but not time.time()'s).", lesson=TASK_LESSON)
    _judge(counts, now, lesson=TASK_LESSON,
           hint_missing=RULE + " Compare with exactly timedelta(days=30), using the newest album.",
           hint_extra=RULE + ' Count from the newest album: Max("albums__created_at"), and '
           "exactly timedelta(days=30).")
    ran.update(value=value, count=sum(bool(c) for c in counts.values()), now=now,
               artists=artists)


@needs(test_emails_inactive_artists_once)
def test_returns_how_many():
    """It returns how many artists it emailed"""
    expect(ran["value"] == ran["count"],
           f"It emailed {ran['count']} artists and returned {ran['value']!r}.",
           f"{ran['count']}, the number of artists emailed",
           "Count the emails as you send them, and return the count: beat's log and Flower "
           "show what a task returns.", lesson=TASK_LESSON)


def _has_field() -> bool:
    from music.models import Artist
    return any(f.name == "last_reminded_at" for f in Artist._meta.get_fields())


@needs(test_emails_inactive_artists_once)
def test_a_second_run_sends_nothing(project, celery_app, worker, outbox):
    """Run again (a redelivery, a second beat), it emails nobody a second time"""
    now, artists = ran["now"], ran["artists"]
    with ProjectClock(project.path, now) as clock:
        value, counts = _run(project, outbox, clock, now, artists)
    again = [a for a, c in counts.items() if c]
    if again and abs(now - datetime.now(timezone.utc)) > timedelta(hours=1) and \
            _database_clock(again):
        fail(f"The second run, at the same moment, emailed {len(again)} artists again: "
             f"last_reminded_at holds today's date, not the moment the task ran "
             f"({now:%d %b %Y %H:%M} UTC on the checker's clock).",
             "last_reminded_at set from timezone.now(), read in the task",
             "CURRENT_TIMESTAMP in raw SQL takes the database's clock, which no test can move; "
             "compute the time once in Python (now = timezone.now()) and use it for the cutoff "
             "and for last_reminded_at.", lesson=ONCE_LESSON)
    hint = ("Record each reminder in a new field, Artist.last_reminded_at (a nullable "
            "DateTimeField, with its migration), and skip artists reminded in the last 30 days."
            if not _has_field() else
            "Set last_reminded_at when you email an artist, and leave out artists whose "
            "last_reminded_at is less than 30 days old.")
    expect(not again, f"The task ran a second time at the same moment (as after a redelivered "
           f"message, or with two beats) and emailed {len(again)} artist"
           f"{'s' * (len(again) != 1)} again, {again[0].name} among them." if again else "",
           "no email: each artist is reminded once per inactivity period", hint,
           lesson=ONCE_LESSON)
    expect(value == 0, f"The second run emailed nobody and returned {value!r}.",
           "0, the number of artists it emailed", "Return the count of emails this run sent.",
           lesson=TASK_LESSON)


def _later(fake, artists, after: datetime, low: float, high: float) -> datetime:
    """A moment ``low``..``high`` days after ``after``, no fixture within MARGIN of a line."""
    for _ in range(200):
        moment = after + timedelta(days=fake.random.uniform(low, high))
        if not any(a.close_to_a_line(moment) for a in artists):
            return moment
    raise RuntimeError("no moment clear of every 30-day line")  # the fixtures are to blame


@needs(test_a_second_run_sends_nothing)
def test_reminds_again_after_30_days(project, celery_app, worker, outbox, fake):
    """Days later it skips artists reminded in the last 30 days, and reminds again after"""
    expect(_has_field(), "Artist has no field last_reminded_at.",
           "last_reminded_at = models.DateTimeField(null=True, blank=True) on Artist, with "
           "its migration (python manage.py makemigrations music)",
           "The task must remember when it last reminded each artist: the contract names "
           "this field.", lesson=ONCE_LESSON)
    first, artists = ran["now"], list(ran["artists"])
    rng = fake.random
    with ProjectClock(project.path, first) as clock:
        # Days later: new artists reminded just under and just over 30 days ago.
        second = _later(fake, artists, first, 2, 20)
        clock.set(second)
        edge_in, edge_out = PERIOD - timedelta(hours=1), PERIOD + timedelta(hours=1)
        plans = [(edge_in, [timedelta(days=rng.uniform(40, 90))]), (edge_out, []),
                 (edge_out, [timedelta(days=rng.uniform(40, 90))]), (edge_in, [])]
        plans += [(timedelta(days=rng.uniform(1, 28)), []) for _ in range(rng.randint(0, 2))]
        with transaction.atomic():
            artists += [_make(fake, second, timedelta(days=rng.uniform(120, 400)), ages,
                              reminded=reminded) for reminded, ages in plans]
        for moment, label in ((second, "second"), (None, "third")):
            if moment is None:
                # Just over 30 days after the first run; one artist reminded then is active again.
                reminded = [a for a in artists if a.reminded == first]
                back = rng.choice(reminded) if reminded else None
                if back:
                    from music.models import Album
                    album = Album.objects.bulk_create([Album(artist_id=back.pk,
                                                             title=fake.title())])[0]
                    made = second + timedelta(hours=1)
                    Album.objects.filter(pk=album.pk).update(created_at=made)
                    back.albums.append(made)
                moment = _later(fake, artists, first + PERIOD, 1 / 24, 2 / 24)
            expected = sum(a.due(moment) for a in artists)
            value, counts = _run(project, outbox, clock, moment, artists)
            at = f" on the {label} run, {_span(moment - first)} after the first"
            _judge(counts, moment, lesson=ONCE_LESSON, observed_at=at,
                   hint_missing="Remind an artist again once their last reminder is more than "
                   "30 days old, if they are still inactive.",
                   hint_extra="Leave out artists whose last_reminded_at is less than 30 days "
                   "old (it is None for an artist never reminded), and count inactivity from "
                   "the newest album.")
            expect(value == expected, f"The {label} run emailed {expected} artists and "
                   f"returned {value!r}.", f"{expected}, the number of artists emailed",
                   "Return the count of emails this run sent, not a fixed number.",
                   lesson=TASK_LESSON)

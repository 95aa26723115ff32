"""Exercise 07 · Crontab: a weekly digest on Mondays at 07:30, in the site's time zone."""

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from grader.harness import expect, fail, guard, needs
from grader.harness.clock import ProjectClock
from grader.harness.schedule import schedule_entry

ENTRY = "weekly-digest"
# Far from UTC, with odd offsets (-03:30, +09:30, +12:45) and daylight saving time in either
# hemisphere: a crontab read in UTC, or converted by hand, lands on the wrong hour. Every zone
# changes its clocks, so every run simulates a week of 167 or 169 hours: a week counted as
# 168 hours of UTC fails whatever the seed (in a zone without the change it would pass).
ZONES = ("America/New_York", "America/St_Johns", "Europe/Paris", "Australia/Sydney",
         "Australia/Adelaide", "Pacific/Auckland", "Pacific/Chatham")
WITHIN = 10  # seconds the task may take on the worker
chosen = {}


def project_environment(fake):
    """Start the project with a TIME_ZONE chosen from the seed (settings read it only once)."""
    chosen["zone"] = fake.random.choice(ZONES)
    return {"TIME_ZONE": chosen["zone"]}


def _task(project):
    return project.task("music.tasks.send_weekly_digest", exercise="04",
                        expected="@shared_task def send_weekly_digest() in music/tasks.py",
                        lesson="#step-1-the-digest-task")


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M")


def test_task_exists(project, celery_app):
    """music.tasks.send_weekly_digest is a Celery task"""
    _task(project)


@guard  # Celery 5.7 already falls back to TIME_ZONE: stage 06 passes it
def test_timezone_follows_time_zone(project, celery_app):
    """Celery's time zone follows TIME_ZONE, which comes from the environment"""
    zone = chosen["zone"]
    setting = project.settings.TIME_ZONE
    expect(setting == zone, f"This check started your project with TIME_ZONE={zone} in the "
           f"environment, and settings.TIME_ZONE is {setting!r}.",
           'TIME_ZONE = env("TIME_ZONE", default="UTC"), as the starter project has it',
           lesson="#step-4-the-sites-time-zone")
    used = celery_app.timezone
    name = getattr(used, "key", None) or str(used)
    year = [datetime(2026, month, 15, 12, tzinfo=timezone.utc) for month in range(1, 13)]
    same = all(moment.astimezone(used).utcoffset() == moment.astimezone(ZoneInfo(zone)).utcoffset()
               for moment in year)
    expect(same, f"This check started your project with TIME_ZONE={zone}, and Celery's time "
           f"zone is {name}.", "CELERY_TIMEZONE = TIME_ZONE in config/settings.py, so that "
           "beat reads a crontab in the site's time zone",
           "Don't set it to UTC and convert the hour by hand: daylight saving time moves it "
           "twice a year, and TIME_ZONE changes with the site.",
           lesson="#step-4-the-sites-time-zone")


@needs(test_task_exists)
def test_schedule_entry(project, celery_app):
    """CELERY_BEAT_SCHEDULE["weekly-digest"] sends that task"""
    schedule_entry(celery_app, ENTRY, _task(project),
                   'crontab(minute=30, hour=7, day_of_week="mon")',
                   lesson="#step-3-a-crontab-for-monday-0730")


def _field(values: set, every: range) -> str:
    return "every" if set(values) >= set(every) else ",".join(map(str, sorted(values)))


def _schedule_hint(schedule) -> str | None:
    """What the entry's own schedule says, when that alone explains the wrong sends."""
    from celery.schedules import crontab

    if not isinstance(schedule, crontab):
        return (f"The entry's schedule is {schedule!r}, not a crontab: an interval counts from "
                "when beat starts (or last sent it), never from a day and an hour of the "
                "calendar. Use crontab(...).")
    fields = {"minute": (schedule.minute, range(60)), "hour": (schedule.hour, range(24)),
              "day_of_week": (schedule.day_of_week, range(7)),
              "day_of_month": (schedule.day_of_month, range(1, 32)),
              "month_of_year": (schedule.month_of_year, range(1, 13))}
    said = ", ".join(f"{name}={_field(*value)}" for name, value in fields.items())
    calendar = [name for name in ("day_of_month", "month_of_year")
                if not set(fields[name][0]) >= set(fields[name][1])]
    if calendar:
        return (f"Your crontab reads {said}: {' and '.join(calendar)} limit{'s' * (len(calendar) == 1)} it to some days of "
                "the month or the year. crontab()'s arguments, in order, are minute, hour, "
                "day_of_week, day_of_month, month_of_year (not a crontab line's order): name "
                "them, and leave day_of_month and month_of_year out.")
    return None


def _days(year: int) -> list[date]:
    return [date(year, 1, 1) + timedelta(days=n) for n in range(365)]


def _changes(days: list[date], zone: ZoneInfo) -> list[date]:
    """The days after which the zone's clocks change."""
    def offset(day):
        return datetime.combine(day, time(12), tzinfo=zone).utcoffset()
    return [day for day in days if offset(day) != offset(day + timedelta(days=1))]


def _start(fake, zone: ZoneInfo) -> datetime:
    """A local Tuesday to Saturday, at a random time: the fortnight after it holds two Mondays.

    Three times in four the fortnight spans a change of clocks, in zones that have one.
    """
    rng = fake.random
    days = _days(rng.choice((2026, 2027)))
    changes = _changes(days, zone)
    first = (rng.choice(changes) - timedelta(days=rng.randint(1, 12))
             if changes and rng.random() < 0.75 else rng.choice(days))
    while first.weekday() not in (1, 2, 3, 4, 5):
        first += timedelta(days=1)
    moment = time(rng.randrange(24), rng.randrange(60), rng.randrange(60))
    return datetime.combine(first, moment, tzinfo=zone).astimezone(timezone.utc)


def _mondays(start: datetime, zone: ZoneInfo) -> list[str]:
    day = start.astimezone(zone).date()
    days = [day + timedelta(days=n) for n in range(15)]
    return [_when(datetime.combine(d, time(7, 30), tzinfo=zone), zone)
            for d in days if d.weekday() == 0]


@needs(test_schedule_entry)
def test_fortnight_sends_twice_on_monday_mornings(celery_app, beat, fake):
    """Over a simulated fortnight beat sends it twice, on Mondays at 07:30 in TIME_ZONE"""
    zone = ZoneInfo(chosen["zone"])
    start = _start(fake, zone)
    clock = beat(start)
    sends = [s.at for s in clock.run_for(timedelta(days=14)) if s.entry == ENTRY]
    wanted = _mondays(start, zone)
    seen = [_when(at, zone) for at in sends]
    if seen == wanted:
        return
    where = f"(TIME_ZONE={chosen['zone']})"
    listed = ", ".join(seen[:4]) + (f" … ({len(seen)} in all)" if len(seen) > 4 else "")
    observed = (f"From {_when(start, zone)} {where}, 14 simulated days, beat sent {ENTRY} "
                + (f"at {listed}." if seen else "nothing."))
    hint = _schedule_hint((celery_app.conf.beat_schedule or {})[ENTRY].get("schedule"))
    local = [at.astimezone(zone) for at in sends]
    if hint:
        pass
    elif len(local) > 2 and all(t.hour == 7 for t in local):
        hint = 'crontab(hour=7) alone runs every minute from 07:00 to 07:59: add minute=30.'
    elif local and all(t.weekday() == 6 for t in local):
        hint = 'day_of_week counts from Sunday = 0: Monday is 1, or "mon".'
    elif local and all((t.hour, t.minute) != (7, 30) for t in local):
        utc = {at.astimezone(timezone.utc).strftime("%H:%M") for at in sends}
        hint = (f"Those are {' and '.join(sorted(utc))} in UTC. Beat reads a crontab in "
                "CELERY_TIMEZONE, and that must be TIME_ZONE.")
    fail(observed, f"exactly two sends: {' and '.join(wanted)}, with "
         'crontab(minute=30, hour=7, day_of_week="mon")', hint,
         lesson="#step-3-a-crontab-for-monday-0730")


DIGEST = time(7, 30)
SECOND = timedelta(seconds=1)
WEEK_LESSON = "#step-2-the-week-in-local-time"


def _mondays_around_a_change(fake, zone: ZoneInfo) -> list[datetime]:
    """Three Mondays at 07:30 local, a week apart; the clocks change between the first and the
    second in every zone that has a change of clocks. Always in the first week: a week counted
    as 168 hours of UTC then fails the first digest's check whatever the seed (with the change
    in either week, it failed the first check or the second by the seed)."""
    rng = fake.random
    days = _days(rng.choice((2026, 2027)))
    changes = _changes(days, zone)
    day = rng.choice(changes) if changes else rng.choice(days)
    day -= timedelta(days=day.weekday())  # the Monday of or before the change
    return [datetime.combine(day + timedelta(days=7 * n), DIGEST, tzinfo=zone) for n in range(3)]


def _hours(start: datetime, end: datetime) -> int:
    # In UTC: two datetimes of the same zone subtract on the wall clock (always 168 h).
    return round((end.astimezone(timezone.utc) - start.astimezone(timezone.utc))
                 .total_seconds() / 3600)


@dataclass(eq=False)
class _Album:
    title: str
    artist: str
    created: datetime  # local
    label: str = ""


def _album(fake, created: datetime, label: str = "") -> _Album:
    """An album created then (its artist joined long before). bulk_create sends no signal (no
    congratulations email from lesson 05); created_at is auto_now_add, so update() sets it."""
    from music.models import Album, Artist

    name = fake.name()
    artist = Artist.objects.create(name=name, email=fake.email(name))
    Artist.objects.filter(pk=artist.pk).update(joined_at=created - timedelta(days=400))
    album = Album.objects.bulk_create([Album(artist=artist, title=fake.title())])[0]
    Album.objects.filter(pk=album.pk).update(created_at=created)
    return _Album(album.title, name, created, label)


def _week(fake, start: datetime, end: datetime) -> list[_Album]:
    """Albums inside [start, end): on its first second, its last, and a few in between."""
    rng = fake.random
    inside = [_album(fake, start, "the previous digest's time"),
              _album(fake, end - SECOND, "a second before this digest's time")]
    span = (end - start).total_seconds()
    inside += [_album(fake, (start + timedelta(seconds=rng.uniform(60, span - 60))).astimezone(
        start.tzinfo)) for _ in range(rng.randint(1, 3))]
    return inside


def _run_digest(project, fake, settings, outbox, clock, now, hint=None):
    """Run the task on the worker at ``now`` for random recipients: {address: its emails}."""
    recipients = [fake.email() for _ in range(fake.count(2, 4))]
    settings(DIGEST_RECIPIENTS=recipients)
    clock.set(now)
    before = len(outbox.messages)
    try:
        _task(project).delay().get(timeout=WITHIN)
    except Exception as exc:
        fail(f"The task did not succeed within {WITHIN} s ({type(exc).__name__}: {exc}).",
             "the worker to run send_weekly_digest", lesson="#step-1-the-digest-task")
    sent = outbox.messages[before:]
    crowded = [e for e in sent if len(set(e.to + e.cc) & set(recipients)) > 1]
    expect(not crowded, f"One email went to {', '.join(crowded[0].to + crowded[0].cc)} at "
           "once: each of them sees everybody else's address." if crowded else "",
           "one email per address in DIGEST_RECIPIENTS", "Loop over the addresses and send "
           "each its own email.", lesson="#step-1-the-digest-task")
    received = {address: [e for e in sent if address in e.recipients()] for address in recipients}
    for address, emails in received.items():
        expect(len(emails) == 1, f"{address}, in DIGEST_RECIPIENTS, got {len(emails)} emails.",
               "exactly one email for each address in settings.DIGEST_RECIPIENTS",
               hint or "Read the addresses from settings.DIGEST_RECIPIENTS when the task runs.",
               lesson="#step-1-the-digest-task")
    return {address: _text(email) for address, (email,) in received.items()}


def _text(email) -> str:
    parts = [email.subject, str(email.body)]
    parts += [str(content) for content, _ in getattr(email, "alternatives", [])]
    return "\n".join(parts)


def _when_exactly(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M:%S")


def _judge(texts, now, start, inside, outside, zone):
    """Every album of [start, now) listed with its artist; none of the others."""
    hours = _hours(start, now)
    where = f"{_when(now, zone)} ({zone.key})"
    dst = (f"That week had a change of clocks and lasted {hours} hours, not 168: "
           "timezone.now() - timedelta(days=7) counts 168 hours of UTC. Count the days in "
           "local time: the previous Monday at 07:30 in TIME_ZONE (timezone.localtime(), "
           "then timedelta(days=7) on that).") if hours != 168 else None
    for address, text in texts.items():
        for album in inside:
            edge = f", {album.label}" if album.label else ""
            expect(album.title in text, f"The digest of {where} to {address} does not list "
                   f"“{album.title}”, created {_when_exactly(album.created, zone)}{edge}.",
                   "every album created from the previous Monday 07:30 to this one, local time",
                   dst or "Start the week at the previous Monday 07:30 in TIME_ZONE (the "
                   "previous digest's time), and filter on Album.created_at.",
                   lesson=WEEK_LESSON)
            expect(album.artist in text, f"The digest of {where} to {address} lists "
                   f"“{album.title}” without its artist, {album.artist}.",
                   "each album's title and its artist's name", lesson="#step-1-the-digest-task")
        for album in outside:
            edge = f", {album.label}" if album.label else ""
            expect(album.title not in text, f"The digest of {where} to {address} lists "
                   f"“{album.title}”, created {_when_exactly(album.created, zone)}{edge}.",
                   "only the albums created from the previous Monday 07:30 to this one, local "
                   "time: each album in exactly one digest", dst or "Filter on "
                   "Album.created_at, from the previous Monday 07:30 in TIME_ZONE.",
                   lesson=WEEK_LESSON)


@needs(test_task_exists)
def test_digest_lists_the_week(project, celery_app, worker, empty_db, outbox, settings, fake):
    """Monday's digest lists the albums since the last Monday 07:30, and no other"""
    zone = ZoneInfo(chosen["zone"])
    mondays = _mondays_around_a_change(fake, zone)
    rng = fake.random
    with ProjectClock(project.path, mondays[0]) as clock:
        outside = [_album(fake, mondays[0] - SECOND, "a second before the previous digest's "
                          "time: that digest listed it")]
        outside += [_album(fake, mondays[0] - timedelta(days=rng.uniform(1, 60)))
                    for _ in range(rng.randint(1, 2))]
        inside = _week(fake, mondays[0], mondays[1])
        texts = _run_digest(project, fake, settings, outbox, clock, mondays[1])
        _judge(texts, mondays[1], mondays[0], inside, outside, zone)
    chosen.update(mondays=mondays, listed=inside + outside)


@needs(test_digest_lists_the_week)
def test_next_digest_lists_the_next_week(project, celery_app, worker, outbox, settings, fake):
    """A week later the next digest lists the next week's: none twice, none missed"""
    zone, mondays = ZoneInfo(chosen["zone"]), chosen["mondays"]
    with ProjectClock(project.path, mondays[1]) as clock:
        inside = _week(fake, mondays[1], mondays[2])
        texts = _run_digest(project, fake, settings, outbox, clock, mondays[2])
        _judge(texts, mondays[2], mondays[1], inside, [_a_digest_later(a) for a in
                                                      chosen["listed"]], zone)


# What an album's place was called in the first digest, and is called a digest later.
_A_DIGEST_LATER = {
    "the previous digest's time": "the time of the digest before the previous one",
    "a second before this digest's time": "a second before the previous digest's time: that "
                                          "digest listed it",
    "a second before the previous digest's time: that digest listed it":
        "a second before the time of the digest before the previous one",
}


def _a_digest_later(album: _Album) -> _Album:
    return replace(album, label=_A_DIGEST_LATER.get(album.label, album.label))


def _says_none(text: str) -> bool:
    text = re.sub(r"\bno-?reply\b", "", text, flags=re.I)  # a sender's address says nothing
    return bool(re.search(r"\b(no|none|nothing|zero|0|not any|n't any)\b", text, re.I))


@needs(test_task_exists)
def test_empty_week_still_sends(project, celery_app, worker, empty_db, outbox, settings, fake):
    """In a week with no new album, each address still gets one email, saying so"""
    zone = ZoneInfo(chosen["zone"])
    rng = fake.random
    monday = _mondays_around_a_change(fake, zone)[1]
    with ProjectClock(project.path, monday) as clock:
        old = [_album(fake, monday - timedelta(days=rng.uniform(7.1, 90)))
               for _ in range(rng.randint(1, 3))]
        texts = _run_digest(project, fake, settings, outbox, clock, monday, hint="Send the "
                            "digest even in a week without albums, saying there were none: "
                            "readers then know that it still works.")
    _judge(texts, monday, monday - timedelta(days=7), [], old, zone)
    for address, text in texts.items():
        expect(_says_none(text), f"In a week without new albums, the digest to {address} "
               f"says: {' '.join(text.split())[:120]!r}.", "an email that says there were no "
               "new albums (in any words)", "Readers can't tell an empty list from a broken "
               "one: say it, for example \"There were no new albums this week.\"",
               lesson="#step-1-the-digest-task")

"""Exercise 07 · Crontab: a weekly digest on Mondays at 07:30, in the site's time zone."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from grader.harness import expect, fail, needs
from grader.harness.schedule import schedule_entry

ENTRY = "weekly-digest"
# Far from UTC, with odd offsets (+05:30, +05:45, -03:30, +12:45) and daylight saving time in
# either hemisphere: a crontab read in UTC, or converted by hand, lands on the wrong hour.
ZONES = ("Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "America/St_Johns",
         "Europe/Paris", "Australia/Sydney", "Australia/Adelaide", "Pacific/Auckland",
         "Pacific/Chatham")
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


def test_timezone_follows_time_zone(project, celery_app):
    """Celery's time zone follows TIME_ZONE, which comes from the environment"""
    zone = chosen["zone"]
    setting = project.settings.TIME_ZONE
    expect(setting == zone, f"This check started your project with TIME_ZONE={zone} in the "
           f"environment, and settings.TIME_ZONE is {setting!r}.",
           'TIME_ZONE = env("TIME_ZONE", default="UTC"), as the starter project has it',
           lesson="#step-3-the-sites-time-zone")
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
           lesson="#step-3-the-sites-time-zone")


@needs(test_task_exists)
def test_schedule_entry(project, celery_app):
    """CELERY_BEAT_SCHEDULE["weekly-digest"] sends that task"""
    schedule_entry(celery_app, ENTRY, _task(project),
                   'crontab(minute=30, hour=7, day_of_week="mon")',
                   lesson="#step-2-a-crontab-for-monday-0730")


def _start(fake, zone: ZoneInfo) -> datetime:
    """A local Tuesday to Saturday, at a random time: the fortnight after it holds two Mondays.

    Half the time the fortnight spans a change of clocks, in zones that have one.
    """
    rng = fake.random
    year = rng.choice((2026, 2027))
    days = [date(year, 1, 1) + timedelta(days=n) for n in range(365)]

    def offset(day):
        return datetime.combine(day, time(12), tzinfo=zone).utcoffset()

    changes = [day for day in days if offset(day) != offset(day + timedelta(days=1))]
    first = (rng.choice(changes) - timedelta(days=rng.randint(1, 12))
             if changes and rng.random() < 0.5 else rng.choice(days))
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
    hint = None
    local = [at.astimezone(zone) for at in sends]
    if len(local) > 2 and all(t.hour == 7 for t in local):
        hint = 'crontab(hour=7) alone runs every minute from 07:00 to 07:59: add minute=30.'
    elif local and all(t.weekday() == 6 for t in local):
        hint = 'day_of_week counts from Sunday = 0: Monday is 1, or "mon".'
    elif local and all((t.hour, t.minute) != (7, 30) for t in local):
        utc = {at.astimezone(timezone.utc).strftime("%H:%M") for at in sends}
        hint = (f"Those are {' and '.join(sorted(utc))} in UTC. Beat reads a crontab in "
                "CELERY_TIMEZONE, and that must be TIME_ZONE.")
    fail(observed, f"exactly two sends: {' and '.join(wanted)}, with "
         'crontab(minute=30, hour=7, day_of_week="mon")', hint,
         lesson="#step-2-a-crontab-for-monday-0730")


def _albums(fake, inside: int, outside: int):
    """Albums made in and out of the last 7 days: (in-window [(title, artist)], out titles).

    Created with bulk_create, which sends no signal (no congratulations email from lesson 05);
    created_at is set with update(), since it is auto_now_add. The artists joined long ago.
    """
    from django.utils import timezone as django_time

    from music.models import Album, Artist

    now = django_time.now()
    rng = fake.random
    ages = ([timedelta(days=rng.uniform(0.05, 6.5)) for _ in range(inside)]
            + [timedelta(days=rng.uniform(8, 29)) for _ in range(outside - 1)]
            + [timedelta(days=rng.uniform(31, 90))] * bool(outside))
    rng.shuffle(ages)
    recent, old = [], []
    for age in ages:
        name = fake.name()
        artist = Artist.objects.create(name=name, email=fake.email(name))
        Artist.objects.filter(pk=artist.pk).update(joined_at=now - timedelta(days=rng.uniform(
            100, 400)))
        album = Album.objects.bulk_create([Album(artist=artist, title=fake.title())])[0]
        Album.objects.filter(pk=album.pk).update(created_at=now - age)
        if age < timedelta(days=7):
            recent.append((album.title, name))
        else:
            old.append((album.title, age.days))
    return recent, old


def _run_digest(project, fake, settings, outbox, hint=None):
    """Run the task on the worker for random recipients: {address: [its emails]}."""
    recipients = [fake.email() for _ in range(fake.count(2, 4))]
    settings(DIGEST_RECIPIENTS=recipients)
    try:
        _task(project).delay().get(timeout=WITHIN)
    except Exception as exc:
        fail(f"The task did not succeed within {WITHIN} s ({type(exc).__name__}: {exc}).",
             "the worker to run send_weekly_digest", lesson="#step-1-the-digest-task")
    sent = outbox.messages
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
    return received


def _text(email) -> str:
    parts = [email.subject, str(email.body)]
    parts += [str(content) for content, _ in getattr(email, "alternatives", [])]
    return "\n".join(parts)


def _no_old_titles(received, old):
    for address, (email,) in received.items():
        text = _text(email)
        listed = [(title, age) for title, age in old if title in text]
        expect(not listed, f"The digest to {address} lists “{listed[0][0]}”, created "
               f"{listed[0][1]} days ago." if listed else "",
               "only the albums created in the previous 7 days",
               "Filter on Album.created_at: created_at__gte=timezone.now() - timedelta(days=7).",
               lesson="#step-1-the-digest-task")


def _beside(text: str, title: str, artist: str) -> bool:
    lines = text.splitlines()
    return any(title in line and any(artist in near for near in lines[max(0, n - 1):n + 2])
               for n, line in enumerate(lines))


@needs(test_task_exists)
def test_digest_lists_the_week(project, celery_app, worker, empty_db, outbox, settings, fake):
    """Each DIGEST_RECIPIENTS address gets one email listing the week's albums and artists"""
    recent, old = _albums(fake, fake.count(2, 4), fake.count(2, 3))
    received = _run_digest(project, fake, settings, outbox)
    for address, (email,) in received.items():
        text = _text(email)
        for title, artist in recent:
            expect(title in text, f"The digest to {address} does not list “{title}”, created "
                   "in the last 7 days.", "every album created in the previous 7 days",
                   "Filter on Album.created_at, the album's own date.",
                   lesson="#step-1-the-digest-task")
            expect(_beside(text, title, artist), f"The digest to {address} lists “{title}” "
                   f"without its artist, {artist}.", "each album's title with its artist's name",
                   lesson="#step-1-the-digest-task")
    _no_old_titles(received, old)


@needs(test_task_exists)
def test_empty_week_still_sends(project, celery_app, worker, empty_db, outbox, settings, fake):
    """In a week with no new album, each address still gets one email, listing none"""
    _, old = _albums(fake, 0, fake.count(1, 3))
    received = _run_digest(project, fake, settings, outbox, hint="Send the digest even in a "
                           "week without albums, saying there were none: readers then know "
                           "that it still works.")
    _no_old_titles(received, old)

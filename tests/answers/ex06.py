"""Exercise 06 (reminders every 24 hours, once per inactivity period, sent by beat)."""

from pathlib import Path

from . import Right, Wrong

_SOLUTION = (Path(__file__).parents[2] / "solutions/06-beat-interval/music/tasks.py").read_text()
TASK = _SOLUTION[_SOLUTION.index("INACTIVE_AFTER = timedelta(days=30)"):]
EVERY_DAY = '"schedule": timedelta(hours=24),'
EXPIRES = '        "options": {"expires": 12 * 60 * 60},\n'
CUTOFF = "    cutoff = now - INACTIVE_AFTER\n"
LATELY = ("    not_reminded_lately = Q(last_reminded_at__isnull=True) | "
          "Q(last_reminded_at__lt=cutoff)\n")
NEWEST = 'Max("albums__created_at")'
MAIL = '''        send_mail(
            subject="We miss your music on Encore",
            message=f"Hello {artist.name}, your listeners miss you.",
            from_email=None,
            recipient_list=[artist.email],
        )
'''


def _task(body: str) -> list:
    """Replace the whole reminder task with ``body`` (imports included)."""
    return [("music/tasks.py", TASK, body)]


# Before exercise 06's second step: the reminder of the first version of lesson 06.
EVERY_DAY_TASK = '''INACTIVE_AFTER = timedelta(days=30)


@shared_task
def remind_inactive_artists():
    cutoff = timezone.now() - INACTIVE_AFTER
    inactive = Artist.objects.annotate(newest_album=Max("albums__created_at")).filter(
        Q(newest_album__lt=cutoff) | Q(newest_album__isnull=True, joined_at__lt=cutoff)
    )
    count = 0
    for artist in inactive:
''' + MAIL + '''        count += 1
    return count
'''

# The same, recording each reminder, written in other ways.
EXISTS_TASK = '''from django.db.models import Exists, OuterRef


@shared_task
def remind_inactive_artists():
    cutoff = timezone.now() - timedelta(days=30)
    recent = Album.objects.filter(artist=OuterRef("pk"), created_at__gte=cutoff)
    due = Artist.objects.filter(~Exists(recent), joined_at__lt=cutoff).exclude(
        last_reminded_at__gte=cutoff)
    artists = list(due)
    for artist in artists:
''' + MAIL + '''    Artist.objects.filter(pk__in=[a.pk for a in artists]).update(last_reminded_at=timezone.now())
    return len(artists)
'''

LOOP_TASK = '''from datetime import datetime, timezone as dt_timezone


@shared_task
def remind_inactive_artists():
    now = datetime.now(dt_timezone.utc)
    sent = 0
    for artist in Artist.objects.prefetch_related("albums"):
        newest = max((album.created_at for album in artist.albums.all()), default=None)
        if (newest or artist.joined_at) > now - timedelta(days=30):
            continue
        if artist.last_reminded_at and now - artist.last_reminded_at <= timedelta(days=30):
            continue
        artist.last_reminded_at = now
        artist.save(update_fields=["last_reminded_at"])
''' + MAIL.replace("        ", "    ", 0) + '''        sent += 1
    return sent
'''

FROM_IMPORT_TASK = '''from django.utils.timezone import now as right_now

MONTH = timedelta(days=30)


@shared_task
def remind_inactive_artists():
    start = right_now()
    emailed = 0
    for artist in Artist.objects.annotate(last=Max("albums__created_at")):
        if (artist.last or artist.joined_at) >= start - MONTH:
            continue
        if artist.last_reminded_at is not None and artist.last_reminded_at >= start - MONTH:
            continue
        won = Artist.objects.filter(pk=artist.pk, last_reminded_at=artist.last_reminded_at)
        if won.update(last_reminded_at=start):
''' + MAIL.replace("\n        ", "\n            ").replace("        send_mail", "            send_mail", 1) + '''            emailed += 1
    return emailed
'''

WRONG = [
    Wrong("06", "a schedule of 24 minutes",
          [("config/settings.py", EVERY_DAY, '"schedule": timedelta(minutes=24),')],
          "Beat sends it 24 hours after", "in its first 23 h 59 min"),
    Wrong("06", "a daily crontab instead of an interval",
          [("config/settings.py", '"schedule": timedelta(hours=24),',
            '"schedule": __import__("celery.schedules").schedules.crontab(minute=0, hour=3),')],
          "24 hours after it starts", "is a crontab"),
    Wrong("06", "the schedule entry has another name",
          [("config/settings.py", '"remind-inactive-artists": {', '"remind-artists": {')],
          'CELERY_BEAT_SCHEDULE["remind-inactive-artists"]', "under the name 'remind-artists'"),
    Wrong("06", "no expires: a late run still runs",
          [("config/settings.py", EXPIRES, "")],
          "a late run is dropped", "no expires"),
    Wrong("06", "an expires longer than the interval",
          [("config/settings.py", EXPIRES, '        "options": {"expires": 48 * 60 * 60},\n')],
          "a late run is dropped", "less than 24 hours"),
    Wrong("06", "an expires as a timedelta",
          [("config/settings.py", EXPIRES, '        "options": {"expires": timedelta(hours=1)},\n')],
          "a late run is dropped", "number of seconds"),
    Wrong("06", "expires next to schedule, not in options",
          [("config/settings.py", EXPIRES, '        "expires": 3600,\n')],
          'CELERY_BEAT_SCHEDULE["remind-inactive-artists"]', '"options": {"expires": ...}'),
    Wrong("06", "30 days counted from joined_at only",
          [("music/tasks.py", "Q(newest_album__lt=cutoff)\n", "Q(joined_at__lt=cutoff)\n")],
          "It emails each artist", "got an email"),
    Wrong("06", "30 days counted from the oldest album",
          [("music/tasks.py", NEWEST, 'Min("albums__created_at")'),
           ("music/tasks.py", "import Max, Q", "import Max, Min, Q")],
          "It emails each artist", "newest album is"),
    Wrong("06", "an off-by-one cutoff of 29 days",
          [("music/tasks.py", "timedelta(days=30)", "timedelta(days=29)")],
          "It emails each artist", "29 days 23 h"),
    Wrong("06", "an off-by-one cutoff of 31 days",
          [("music/tasks.py", "timedelta(days=30)", "timedelta(days=31)")],
          "It emails each artist", "30 days 1 h"),
    Wrong("06", "a cutoff computed once, when the module is imported",
          [("music/tasks.py", "INACTIVE_AFTER = timedelta(days=30)\n",
            "INACTIVE_AFTER = timedelta(days=30)\nCUTOFF = timezone.now() - INACTIVE_AFTER\n"),
           ("music/tasks.py", CUTOFF, "    cutoff = CUTOFF\n")],
          "It emails each artist", "when the module is imported"),
    Wrong("06", "a join over albums emails each artist once per album",
          [("music/tasks.py", TASK, TASK.replace(
              'Artist.objects.annotate(newest_album=Max("albums__created_at")).filter(\n'
              "        # Their newest album is older than 30 days...\n"
              "        Q(newest_album__lt=cutoff)\n"
              "        # ...or they have no album at all, and joined more than 30 days ago.\n"
              "        | Q(newest_album__isnull=True, joined_at__lt=cutoff),",
              "Artist.objects.filter(\n        Q(albums__created_at__lt=cutoff)\n"
              "        | Q(albums__isnull=True, joined_at__lt=cutoff),").replace(
              "        if not claimed:\n            continue\n", ""))],
          "It emails each artist", "however many albums they have"),
    Wrong("06", "the task does not return the count",
          [("music/tasks.py", "        count += 1\n    return count\n", "        count += 1\n")],
          "It returns how many", "returned None"),
    Wrong("06", "a hard-coded count",
          [("music/tasks.py", "        count += 1\n    return count\n",
            "        count += 1\n    return 0\n")],
          "It returns how many", "returned 0"),
    Wrong("06", "reminding every day, forever (no last_reminded_at)",
          _task(EVERY_DAY_TASK), "Run again", "last_reminded_at"),
    Wrong("06", "last_reminded_at set but never read",
          [("music/tasks.py", "        not_reminded_lately,\n", ""),
           ("music/tasks.py", "filter(not_reminded_lately, pk=artist.pk)", "filter(pk=artist.pk)")],
          "Run again", "emailed"),
    Wrong("06", "an artist is reminded once ever, not once per 30 days",
          [("music/tasks.py", LATELY, "    not_reminded_lately = Q(last_reminded_at__isnull=True)\n")],
          "reminds again after", "No email went to"),
    Wrong("06", "reminded again after 29 days",
          [("music/tasks.py", LATELY, LATELY.replace(
              "last_reminded_at__lt=cutoff", "last_reminded_at__lt=now - timedelta(days=29)"))],
          "reminds again after", "reminded 29 days 23 h ago"),
]

_NOW = "    now = timezone.now()  # read on every run: a worker runs for weeks"
RIGHT = [
    Right("06", "now from time.time(), imported at the top of tasks.py",
          [("music/tasks.py", _NOW,
            "    now = datetime.fromtimestamp(time.time(), tz=dt_timezone.utc)"),
           ("music/tasks.py", "from celery import shared_task",
            "import time\nfrom datetime import datetime, timezone as dt_timezone\n\n"
            "from celery import shared_task")]),
    Right("06", "now from time.time(), imported inside the task",
          [("music/tasks.py", _NOW, "    import time\n    from datetime import datetime, "
            "timezone as tz\n    now = datetime.fromtimestamp(time.time(), tz=tz.utc)")]),
    Right("06", "a number of seconds for the schedule, a float expires",
          [("config/settings.py", EVERY_DAY, '"schedule": 86400.0,'),
           ("config/settings.py", EXPIRES, '        "options": {"expires": 3600.0},\n')]),
    Right("06", "celery.schedules.schedule(timedelta(days=1))",
          [("config/settings.py", EVERY_DAY, '"schedule": schedule(timedelta(days=1)),'),
           ("config/settings.py", "from datetime import timedelta\n",
            "from datetime import timedelta\n\nfrom celery.schedules import schedule\n")]),
    Right("06", "expires on the task, not in the entry",
          [("config/settings.py", EXPIRES, ""),
           ("music/tasks.py", "@shared_task\ndef remind_inactive_artists",
            "@shared_task(expires=6 * 3600)\ndef remind_inactive_artists")]),
    Right("06", "an Exists() subquery, reminders recorded after sending",
          _task(EXISTS_TASK)),
    Right("06", "a loop in Python with datetime.now(UTC) and save()",
          _task(LOOP_TASK)),
    Right("06", "from django.utils.timezone import now, an optimistic claim",
          _task(FROM_IMPORT_TASK)),
    # Now() is the database's clock, as good as timezone.now(): the checker's clock drives it.
    Right("06", "last_reminded_at from the database's clock, Now()",
          [("music/tasks.py", "            last_reminded_at=now\n",
            "            last_reminded_at=Now()\n"),
           ("music/tasks.py", "import Max, Q\n",
            "import Max, Q\nfrom django.db.models.functions import Now\n")], seed=1),
]

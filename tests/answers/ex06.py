"""Exercise 06 (reminders every 24 hours, sent by beat): typical wrong answers."""

from . import Right, Wrong

EVERY_DAY = '"schedule": timedelta(hours=24),'
INACTIVE = '''    inactive = Artist.objects.annotate(newest_album=Max("albums__created_at")).filter(
        # Their newest album is older than 30 days...
        Q(newest_album__lt=cutoff)
        # ...or they have no album at all, and joined more than 30 days ago.
        | Q(newest_album__isnull=True, joined_at__lt=cutoff)
    )
'''

WRONG = [
    Wrong("06", "a schedule of 24 minutes",
          [("config/settings.py", EVERY_DAY, '"schedule": timedelta(minutes=24),')],
          "Beat sends it 24 hours after", "in its first 23 h 59 min"),
    Wrong("06", "30 days counted from joined_at only",
          [("music/tasks.py", INACTIVE, "    inactive = Artist.objects.filter(joined_at__lt=cutoff)\n")],
          "It emails each artist", "got an email"),
    Wrong("06", "30 days counted from the oldest album",
          [("music/tasks.py", 'Max("albums__created_at")', 'Min("albums__created_at")'),
           ("music/tasks.py", "import Max, Q", "import Min, Q")],
          "It emails each artist", "(and an older one"),
    Wrong("06", "a join over albums emails each artist once per album",
          [("music/tasks.py", INACTIVE,
            "    inactive = Artist.objects.filter(\n        Q(albums__created_at__lt=cutoff)\n"
            "        | Q(albums__isnull=True, joined_at__lt=cutoff)\n    )\n")],
          "It emails each artist", "however many albums they have"),
    Wrong("06", "the task does not return the count",
          [("music/tasks.py", "        count += 1\n    return count\n", "        count += 1\n")],
          "It returns how many", "returned None"),
    Wrong("06", "the schedule entry has another name",
          [("config/settings.py", '"remind-inactive-artists": {', '"remind-artists": {')],
          'CELERY_BEAT_SCHEDULE["remind-inactive-artists"]', "under the name 'remind-artists'"),
]

RIGHT = [
    Right("06", "a number of seconds for the schedule",
          [("config/settings.py", EVERY_DAY, '"schedule": 86400.0,')]),
    Right("06", "celery.schedules.schedule with run_every",
          [("config/settings.py", EVERY_DAY, '"schedule": schedule(run_every=timedelta(days=1)),'),
           ("config/settings.py", "from datetime import timedelta\n",
            "from datetime import timedelta\n\nfrom celery.schedules import schedule\n")]),
    Right("06", "a loop in Python instead of an annotated query",
          [("music/tasks.py", INACTIVE,
            "    inactive = []\n"
            '    for artist in Artist.objects.prefetch_related("albums"):\n'
            "        newest = max((album.created_at for album in artist.albums.all()), default=None)\n"
            "        if (newest or artist.joined_at) < cutoff:\n"
            "            inactive.append(artist)\n")]),
]

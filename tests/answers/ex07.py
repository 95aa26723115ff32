"""Exercise 07 (the Monday digest, on a crontab in the site's time zone)."""

from . import Right, Wrong

CRONTAB = 'crontab(minute=30, hour=7, day_of_week="mon")'
FOLLOWS = "CELERY_TIMEZONE = TIME_ZONE"
SEND = '''        send_mail(
            subject="Encore weekly digest",
            message=body + "\\n\\nThe Encore team",
            from_email=None,
            recipient_list=[address],
        )
'''
LOOP = ("    for address in settings.DIGEST_RECIPIENTS:\n"
        "        # One email per address: recipients do not see each other's addresses.\n")
WEEK = "    start, end = digest_week(timezone.now())\n"
FILTER = "Album.objects.filter(created_at__gte=start, created_at__lt=end)"
NONE = '        body = f"There were no new albums on Encore {week}."'
LINES = '        lines = [f"- “{album.title}” by {album.artist.name}" for album in albums]\n'

WRONG = [
    Wrong("07", "Celery's time zone is UTC",
          [("config/settings.py", FOLLOWS, 'CELERY_TIMEZONE = "UTC"')],
          "Celery's time zone follows TIME_ZONE", "Celery's time zone is UTC"),
    Wrong("07", "the crontab is read in UTC",
          [("config/settings.py", FOLLOWS, 'CELERY_TIMEZONE = "UTC"')],
          "Over a simulated fortnight", "Beat reads a crontab in CELERY_TIMEZONE"),
    Wrong("07", "the crontab's hour is converted to UTC by hand",
          [("config/settings.py", FOLLOWS, 'CELERY_TIMEZONE = "UTC"'),
           ("config/settings.py", CRONTAB, 'crontab(minute=30, hour=6, day_of_week="mon")')],
          "Celery's time zone follows TIME_ZONE", "daylight saving time moves it"),
    Wrong("07", "day_of_week=0, which is Sunday",
          [("config/settings.py", CRONTAB, "crontab(minute=30, hour=7, day_of_week=0)")],
          "Over a simulated fortnight", "counts from Sunday = 0"),
    Wrong("07", "hour=7 without minute=30",
          [("config/settings.py", CRONTAB, 'crontab(hour=7, day_of_week="mon")')],
          "Over a simulated fortnight", "add minute=30"),
    Wrong("07", "crontab's arguments in a crontab line's order (month_of_year=1)",
          [("config/settings.py", CRONTAB, "crontab(*\"30 7 * * 1\".split())")],
          "Over a simulated fortnight", "crontab()'s arguments, in order, are minute, hour, "
          "day_of_week, day_of_month, month_of_year"),
    Wrong("07", "day_of_month=1 for Monday",
          [("config/settings.py", CRONTAB, "crontab(minute=30, hour=7, day_of_month=1)")],
          "Over a simulated fortnight", "day_of_month limits it"),
    Wrong("07", "an interval of 7 days, not a crontab",
          [("config/settings.py", CRONTAB, "timedelta(days=7)")],
          "Over a simulated fortnight", "not a crontab: an interval counts from when beat starts"),
    Wrong("07", "a UTC week: timedelta(days=7) from timezone.now()",
          [("music/tasks.py", WEEK,
            "    end = timezone.now()\n    start = end - timedelta(days=7)\n")],
          "Monday's digest lists", "hours, not 168"),
    Wrong("07", "a window of 30 days",
          [("music/tasks.py", "return end - timedelta(days=7), end",
            "return end - timedelta(days=30), end")],
          "Monday's digest lists", "created"),
    Wrong("07", "a window of 6 days",
          [("music/tasks.py", "return end - timedelta(days=7), end",
            "return end - timedelta(days=6), end")],
          "Monday's digest lists", "does not list"),
    Wrong("07", "the window reads the artist's joined_at",
          [("music/tasks.py", FILTER,
            "Album.objects.filter(artist__joined_at__gte=start, artist__joined_at__lt=end)")],
          "Monday's digest lists", "does not list"),
    Wrong("07", "the titles without their artists",
          [("music/tasks.py", LINES, '        lines = [f"- {album.title}" for album in albums]\n')],
          "Monday's digest lists", "without its artist"),
    Wrong("07", "one email to every recipient at once",
          [("music/tasks.py", LOOP + SEND,
            '    send_mail("Encore weekly digest", body, None, settings.DIGEST_RECIPIENTS)\n')],
          "Monday's digest lists", "sees everybody else's address"),
    Wrong("07", "nothing is sent in a week without albums",
          [("music/tasks.py", NONE, "        return 0")],
          "In a week with no new album", "Send the digest even in a week without albums"),
    Wrong("07", "an empty week's digest that does not say so",
          [("music/tasks.py", NONE, '        body = f"New on Encore {week}:"')],
          "In a week with no new album", "there were no new albums"),
    Wrong("07", "an empty week's digest whose only 'no' is a no-reply signature",
          [("music/tasks.py", NONE, '        body = f"New on Encore {week}:"'),
           ("music/tasks.py", '"\\n\\nThe Encore team"', '"\\n\\nThe Encore team (no-reply)"')],
          "In a week with no new album", "there were no new albums"),
]

RIGHT = [
    Right("07", "crontab with strings and the day's full name",
          [("config/settings.py", CRONTAB, 'crontab(minute="30", hour="7", day_of_week="monday")')]),
    Right("07", "day_of_week=1, the fields in another order",
          [("config/settings.py", CRONTAB, "crontab(day_of_week=1, hour=7, minute=30)")]),
    Right("07", "no CELERY_TIMEZONE: Celery falls back to Django's TIME_ZONE",
          [("config/settings.py", FOLLOWS, "")]),
    Right("07", "an explicit loop with EmailMessage",
          [("music/tasks.py", SEND,
            '        EmailMessage("Encore weekly digest", body, to=[address]).send()\n'),
           ("music/tasks.py", "from django.core.mail import send_mail",
            "from django.core.mail import EmailMessage, send_mail")]),
    Right("07", "one email with every address in Bcc: nobody sees the others",
          [("music/tasks.py", LOOP + SEND,
            '    EmailMessage("Encore weekly digest", body, bcc=settings.DIGEST_RECIPIENTS).send()\n'),
           ("music/tasks.py", "from django.core.mail import send_mail",
            "from django.core.mail import EmailMessage, send_mail")]),
    Right("07", "seven days back on the local clock, up to now",
          [("music/tasks.py", WEEK, "    end = timezone.localtime()\n"
            "    start = end - timedelta(days=7)  # wall-clock days in TIME_ZONE\n"),
           ("music/tasks.py", FILTER, "Album.objects.filter(created_at__gte=start)")]),
    Right("07", "the previous Monday with ZoneInfo and datetime.combine",
          [("music/tasks.py", WEEK,
            "    from datetime import datetime, time\n"
            "    from zoneinfo import ZoneInfo\n"
            "    zone = ZoneInfo(settings.TIME_ZONE)\n"
            "    today = datetime.now(zone)\n"
            "    monday = today.date() - timedelta(days=today.weekday())\n"
            "    end = datetime.combine(monday, time(7, 30), tzinfo=zone)\n"
            "    if end > today:\n"
            "        end = datetime.combine(monday - timedelta(days=7), time(7, 30), tzinfo=zone)\n"
            "    start = datetime.combine(end.date() - timedelta(days=7), time(7, 30), tzinfo=zone)\n")]),
    Right("07", "another layout: artist first, in sections, newest first",
          [("music/tasks.py", LINES,
            '        lines = [f"{album.artist.name}\\n    {album.title}\\n" for album in '
            'reversed(albums)]\n'),
           ("music/tasks.py", NONE, '        body = "Nothing new this week."')]),
]

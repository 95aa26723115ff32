"""Exercise 07 (the Monday digest, on a crontab in the site's time zone): typical wrong answers."""

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
    Wrong("07", "a window of 30 days",
          [("music/tasks.py", "DIGEST_WINDOW = timedelta(days=7)",
            "DIGEST_WINDOW = timedelta(days=30)")],
          "listing the week's albums", "days ago"),
    Wrong("07", "the window reads the artist's joined_at",
          [("music/tasks.py", "Album.objects.filter(created_at__gte=since)",
            "Album.objects.filter(artist__joined_at__gte=since)")],
          "listing the week's albums", "does not list"),
    Wrong("07", "one email to every recipient at once",
          [("music/tasks.py", LOOP + SEND,
            '    send_mail("Encore weekly digest", body, None, settings.DIGEST_RECIPIENTS)\n')],
          "listing the week's albums", "sees everybody else's address"),
    Wrong("07", "nothing is sent in a week without albums",
          [("music/tasks.py", '        body = "There were no new albums on Encore in the last 7 days."',
            "        return 0")],
          "In a week with no new album", "Send the digest even in a week without albums"),
]

RIGHT = [
    Right("07", "crontab with strings and the day's full name",
          [("config/settings.py", CRONTAB, 'crontab(minute="30", hour="7", day_of_week="monday")')]),
    Right("07", "day_of_week=1",
          [("config/settings.py", CRONTAB, "crontab(minute=30, hour=7, day_of_week=1)")]),
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
]

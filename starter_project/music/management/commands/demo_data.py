"""
Reset Encore's artists and albums to the course's demo set, so lessons show what you get.

    python manage.py demo_data          # asks before deleting anything
    python manage.py demo_data --yes    # no question (scripts)

It deletes every artist and album (their search entries go with them) from the project's own
database, and nothing else: feedback, users and Celery's data stay as they are. Then it
creates four artists whose dates are set relative to now, so the reminders (lesson 06) and
the weekly digest (lesson 07) always find the same artists and albums.
"""
import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from music.models import Album, Artist

DAY = timedelta(days=1)

# (name, email, joined this long ago, [(album title, created this long ago)]);
# None as an age: in the week the latest weekly digest covers (see _last_week).
ARTISTS = [
    ("The Night Owls", "owls@example.com", 120 * DAY,
     [("First Light", 45 * DAY), ("Paper Moons", 45 * DAY)]),
    ("Marta Ruiz", "marta@example.com", 120 * DAY,
     [("Blue Hours", 60 * DAY), ("Late Set", None)]),
    ("Kai Lindqvist", "kai@example.com", 120 * DAY, []),
    ("Juno Park", "juno@example.com", 10 * DAY, [("Night Bus", 0 * DAY)]),
]


def _last_week(now):
    """Friday 18:00 (local time) before the latest Monday 07:30: inside the week that Monday's
    digest lists, and 3 to 10 days old, so its artist is not inactive."""
    local = timezone.localtime(now)
    monday = local.replace(hour=7, minute=30, second=0, microsecond=0)
    monday -= timedelta(days=local.weekday())
    if monday > local:
        monday -= timedelta(days=7)
    return (monday - timedelta(days=3)).replace(hour=18, minute=0)


def _age(now, when):
    days = (now - when) // DAY
    return "today" if days == 0 else "last week" if days < 30 else f"{days} days old"


class Command(BaseCommand):
    help = "Delete every artist and album, then create the course's demo artists and albums."

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true",
                            help="delete without asking (for scripts)")

    def handle(self, *args, yes=False, **options):
        artists, albums = Artist.objects.count(), Album.objects.count()
        database = connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]
        if (artists or albums) and not yes:
            self._confirm(f"This deletes {artists} artists and {albums} albums from {database}, "
                          "and creates the demo set instead.")
        now = timezone.now()
        with transaction.atomic():
            Artist.objects.all().delete()  # their albums and search entries go with them
            lines = []
            for name, email, joined, planned in ARTISTS:
                # bulk_create saves without sending post_save: no congratulations emails.
                (artist,) = Artist.objects.bulk_create([Artist(name=name, email=email)])
                Artist.objects.filter(pk=artist.pk).update(joined_at=now - joined)
                made = []
                for title, age in planned:
                    when = _last_week(now) if age is None else now - age
                    (album,) = Album.objects.bulk_create([Album(artist=artist, title=title)])
                    Album.objects.filter(pk=album.pk).update(created_at=when)
                    made.append(f"{title} ({_age(now, when)})")
                lines.append(f"  {name:<15} joined {joined.days:>3} days ago   "
                             + (", ".join(made) or "no album"))
        self.stdout.write(f"Deleted {artists} artists and {albums} albums. Created "
                          f"{len(ARTISTS)} artists and "
                          f"{sum(len(a[3]) for a in ARTISTS)} albums:")
        self.stdout.write("\n".join(lines))

    def _confirm(self, question):
        if not sys.stdin.isatty():
            raise CommandError(f"{question} Run it again with --yes to go ahead.")
        answer = input(f"{question}\nType yes to go on: ")
        if answer.strip().lower() != "yes":
            raise CommandError("Nothing was changed.")

"""Exercise 10 (reliable delivery, an idempotent congratulations task): typical answers."""

from . import Right, Wrong, as_package

ACKS = "CELERY_TASK_ACKS_LATE = True\n"
REJECT = "CELERY_TASK_REJECT_ON_WORKER_LOST = True\n"
PREFETCH = "CELERY_WORKER_PREFETCH_MULTIPLIER = 1\n"
VISIBILITY = 'CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}  # seconds\n'
NO_SETTINGS = [("config/settings.py", line, "") for line in (ACKS, REJECT, PREFETCH, VISIBILITY)]
TASKS = "music/tasks.py"
CLAIM = '''    with transaction.atomic():
        claimed = Album.objects.filter(pk=album.pk, congratulated_at__isnull=True).update(
            congratulated_at=timezone.now()
        )
        if not claimed:
            return  # congratulated already
'''
KEEP_INDENT = "    if True:  # send_mail stays where it was\n"
AFTER_APP = "app.autodiscover_tasks()\n"


def _claim(replacement: str):
    """The task with its claim replaced by ``replacement`` (send_mail stays indented)."""
    return (TASKS, CLAIM, replacement + KEEP_INDENT)


WRONG = [
    # The settings
    Wrong("10", "early acknowledgement: no CELERY_TASK_ACKS_LATE",
          [("config/settings.py", ACKS, "")],
          "A worker started later", "early acknowledgement"),
    Wrong("10", "late acks without reject_on_worker_lost",
          [("config/settings.py", REJECT, "")],
          "A worker started later", "Late acknowledgement is on, and still"),
    Wrong("10", "the feedback task opts out of late acks",
          [("feedback/tasks.py", "@shared_task(ignore_result=True)",
            "@shared_task(ignore_result=True, acks_late=False)")],
          "A worker started later", "says acks_late=False"),
    Wrong("10", "the settings only under if DEBUG",
          [*NO_SETTINGS, ("config/settings.py", "",
                          "\nif DEBUG:\n    " + "    ".join((ACKS, REJECT, PREFETCH, VISIBILITY)))],
          "A worker started later", "under a condition"),
    Wrong("10", "acks late without the CELERY_ prefix",
          [("config/settings.py", ACKS, "TASK_ACKS_LATE = True\n")],
          "A worker started later", "without the CELERY_ prefix"),
    Wrong("10", "prefetch left at Celery's 4",
          [("config/settings.py", PREFETCH, "CELERY_WORKER_PREFETCH_MULTIPLIER = 4\n")],
          "prefetch multiplier of 1", "worker_prefetch_multiplier is 4"),
    Wrong("10", "no prefetch setting at all",
          [("config/settings.py", PREFETCH, "")],
          "prefetch multiplier of 1", "Set CELERY_WORKER_PREFETCH_MULTIPLIER = 1"),
    Wrong("10", "visibility timeout left unset",
          [("config/settings.py", VISIBILITY, "")],
          "explicit visibility timeout", "has no visibility_timeout"),
    Wrong("10", "the lesson's 10 s demonstration timeout left in settings",
          [("config/settings.py", VISIBILITY,
            'CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 10}\n')],
          "explicit visibility timeout", "visibility_timeout is 10 s"),
    Wrong("10", "the visibility timeout written as a string",
          [("config/settings.py", VISIBILITY,
            'CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": "7200"}\n')],
          "explicit visibility timeout", "not a number of seconds"),
    # The task
    Wrong("10", "late acks, and a task that is not idempotent",
          [(TASKS, "        if not claimed:\n            return  # congratulated already\n", "")],
          "delivered twice sends one email", "Late acknowledgement without an idempotent task"),
    Wrong("10", "idempotency in a set in the worker's memory",
          [_claim("    if album_id in _SENT:\n        return\n    _SENT.add(album_id)\n"),
           (TASKS, "", "\n_SENT = set()  # album ids already congratulated\n")],
          "After a restart", "lives in the worker's memory"),
    Wrong("10", "idempotency in Django's default (in-memory) cache",
          [_claim('    from django.core.cache import cache\n\n'
                  '    if not cache.add(f"congratulated-{album_id}", True, None):\n'
                  "        return\n")],
          "After a restart", "lives in the worker's memory"),
    Wrong("10", "check-then-act: the flag read first, and saved after the email",
          [_claim("    if album.congratulated_at:\n        return  # congratulated already\n"),
           (TASKS, "            recipient_list=[artist.email],\n        )\n",
            "            recipient_list=[artist.email],\n        )\n"
            "        album.congratulated_at = timezone.now()\n        album.save()\n")],
          "delivered twice sends one email", "Check-then-act has a gap"),
    Wrong("10", "idempotency per artist: a second album by the same artist gets nothing",
          [(TASKS, CLAIM, "    if Album.objects.filter(artist=artist, congratulated_at__isnull="
            "False).exists():\n        return  # congratulated already\n" + CLAIM)],
          "delivered twice sends one email", "per artist, not per album"),
    Wrong("10", "one flag for every album: only the first album ever is congratulated",
          [(TASKS, CLAIM, "    if Album.objects.filter(congratulated_at__isnull=False).exists():"
            "\n        return\n" + CLAIM)],
          "delivered twice sends one email", "even another artist's"),
]

RIGHT = [
    Right("10", "a table with one row per album sent, and get_or_create",
          [("music/models.py", "", '''

class Congratulation(models.Model):
    """One row per album whose artist was congratulated: the database refuses a second."""

    album = models.OneToOneField(Album, on_delete=models.CASCADE)
'''),
           ("music/migrations/0005_congratulation.py", "", '''from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("music", "0004_album_congratulated_at")]

    operations = [
        migrations.CreateModel(
            name="Congratulation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("album", models.OneToOneField(on_delete=models.deletion.CASCADE,
                                               to="music.album")),
            ],
        ),
    ]
'''),
           _claim("    from .models import Congratulation\n\n"
                  "    _, created = Congratulation.objects.get_or_create(album_id=album.pk)\n"
                  "    if not created:\n        return\n")]),
    Right("10", "select_for_update in a transaction, then save()",
          [(TASKS, CLAIM, '''    with transaction.atomic():
        locked = Album.objects.select_for_update().get(pk=album.pk)
        if locked.congratulated_at is not None:
            return
        locked.congratulated_at = timezone.now()
        locked.save(update_fields=["congratulated_at"])
''')]),
    Right("10", "the claim committed first, outside a transaction (as in lesson 06)",
          [_claim('''    claimed = Album.objects.filter(pk=album.pk, congratulated_at__isnull=True).update(
        congratulated_at=timezone.now()
    )
    if not claimed:
        return
''')]),
    Right("10", "a Redis key set with NX, in the broker's Redis",
          [_claim('''    import redis
    from django.conf import settings

    first = redis.Redis.from_url(settings.REDIS_URL).set(
        f"encore:congratulated:{album_id}", 1, nx=True
    )
    if not first:
        return
''')]),
    Right("10", "the visibility timeout read from the environment, an hour by default",
          [("config/settings.py", VISIBILITY, 'CELERY_BROKER_TRANSPORT_OPTIONS = {\n'
            '    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60),\n'
            "}\n")]),
    Right("10", "the settings with app.conf.update in config/celery.py, one hour written",
          [*NO_SETTINGS,
           ("config/celery.py", AFTER_APP, AFTER_APP + '''
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": 3600},
)
''')]),
    Right("10", "music/tasks/ as a package: the task is music.tasks.albums.send_album_congratulations",
          as_package("10-reliable-delivery", "music", "albums")),
]

"""Exercise 05 (congratulations after the commit): typical wrong answers."""

from . import Right, Wrong

ON_COMMIT = "transaction.on_commit(lambda: send_album_congratulations.delay(album_id))"
CONNECT = ("        from django.db.models.signals import post_save\n\n"
           "        from .models import Album\n        from .signals import album_saved\n\n"
           "        post_save.connect(album_saved, sender=Album, "
           'dispatch_uid="music.album_saved")\n')
DEFINE = "def album_saved(sender, instance, created, **kwargs):"
DECORATED = ("from django.db.models.signals import post_save\nfrom django.dispatch import "
             "receiver\n\nfrom .models import Album\n\n\n@receiver(post_save, sender=Album)\n"
             + DEFINE)

WRONG = [
    Wrong("05", "the task is bound to config's app with @app.task",
          [("music/tasks.py", "@shared_task\ndef send_album_congratulations(", "@app.task\ndef send_album_congratulations("),
           ("music/tasks.py", "from celery import shared_task\n",
            "from celery import shared_task\n\nfrom config.celery import app\n")],
          "is a @shared_task", "bound to config's app"),
    Wrong("05", "delay() right in the receiver, inside the transaction",
          [("music/signals.py", ON_COMMIT, "send_album_congratulations.delay(album_id)")],
          "Inside an open transaction", "still open"),
    Wrong("05", "the receiver sends on every save",
          [("music/signals.py", "    if not created:\n        return  # an edit, not a new album\n",
            "")],
          "Saving an existing album again", "published 2 more"),
    Wrong("05", "the receiver is connected only because views.py imports signals.py",
          [("music/apps.py", CONNECT, "        pass\n"),
           ("music/signals.py", DEFINE, DECORATED),
           ("music/views.py", "from .tasks import fetch_spotify_genres\n",
            "from .tasks import fetch_spotify_genres\nfrom . import signals  # noqa: F401\n")],
          "An album made with the ORM", "accident of import order"),
    Wrong("05", "the receiver is connected twice",
          [("music/signals.py", DEFINE, DECORATED)],
          "An album made with the ORM", "published 2 messages"),
    Wrong("05", "the receiver sends the email itself instead of enqueuing the task",
          [("music/signals.py", ON_COMMIT,
            "transaction.on_commit(lambda: send_album_congratulations(album_id))")],
          "An album made with the ORM", "right inside Album.objects.create()"),
    Wrong("05", "the task emails the wrong address",
          [("music/tasks.py", "recipient_list=[artist.email]",
            'recipient_list=["team@encore.example"]')],
          "An album made with the ORM", "went to ['team@encore.example']"),
    Wrong("05", "the subject does not name the album",
          [("music/tasks.py", "subject=f'Congratulations on \"{album.title}\"'",
            'subject="Congratulations on your new album"')],
          "An album made with the ORM", "a subject that contains"),
]

RIGHT = [
    Right("05", "delay_on_commit instead of on_commit with a lambda",
          [("music/signals.py", ON_COMMIT,
            "send_album_congratulations.delay_on_commit(album_id)")]),
    Right("05", "@receiver in signals.py, imported in ready()",
          [("music/signals.py", DEFINE, DECORATED.replace(
              "sender=Album)", 'sender=Album, dispatch_uid="congratulate-new-albums")')),
           ("music/apps.py", CONNECT, "        from . import signals  # noqa: F401\n")]),
    Right("05", "apply_async through on_commit with functools.partial",
          [("music/signals.py", ON_COMMIT, "transaction.on_commit(functools.partial("
            "send_album_congratulations.apply_async, args=(album_id,)))"),
           ("music/signals.py", "from django.db import transaction",
            "import functools\n\nfrom django.db import transaction")]),
]

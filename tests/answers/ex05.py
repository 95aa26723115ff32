"""Exercise 05 (congratulations after the commit): typical wrong answers."""

from . import Right, Wrong, as_package

ON_COMMIT = ("transaction.on_commit(lambda: send_album_congratulations.delay(album_id), "
             "robust=True)")
CONNECT = ("        from django.db.models.signals import post_save\n\n"
           "        from .models import Album\n        from .signals import album_saved\n\n"
           "        post_save.connect(album_saved, sender=Album, "
           'dispatch_uid="music.album_saved")\n')
DEFINE = "def album_saved(sender, instance, created, raw=False, **kwargs):"
DECORATED = ("from django.db.models.signals import post_save\nfrom django.dispatch import "
             "receiver\n\nfrom .models import Album\n\n\n@receiver(post_save, sender=Album)\n"
             + DEFINE)
GUARD = ("    if raw or not created:\n"
         "        return  # loaded from a fixture (loaddata), or an edit: not a new album\n")
SAVE = "        return self.title\n"  # the end of Album, in music/models.py
# A receiver defined inside ready(), as a closure: connect() keeps only a weak reference.
LOCAL = ("        from django.db.models.signals import post_save\n\n"
         "        from .models import Album\n        from .tasks import send_album_congratulations\n\n"
         "        def congratulate(sender, instance, created, raw=False, **kwargs):\n"
         "            if created and not raw:\n"
         "                send_album_congratulations.delay_on_commit(instance.pk)\n\n"
         "        post_save.connect(congratulate, sender=Album{weak})\n")

WRONG = [
    Wrong("05", "the task is bound to config's app with @app.task",
          [("music/tasks.py", "@shared_task(ignore_result=True)\ndef send_album_congratulations(",
            "@app.task\ndef send_album_congratulations("),
           ("music/tasks.py", "from celery import shared_task\n",
            "from celery import shared_task\n\nfrom config.celery import app\n")],
          "is a @shared_task", "bound to config's app"),
    Wrong("05", "delay() right in the receiver, inside the transaction",
          [("music/signals.py", ON_COMMIT, "send_album_congratulations.delay(album_id)")],
          "Inside an open transaction", "still open"),
    Wrong("05", "the receiver sends on every save",
          [("music/signals.py", GUARD, "    if raw:\n        return\n")],
          "Saving an existing album again", "published 2 more"),
    Wrong("05", "the receiver is connected only because views.py imports signals.py",
          [("music/apps.py", CONNECT, "        pass\n"),
           ("music/signals.py", DEFINE, DECORATED),
           ("music/views.py", "from .tasks import fetch_spotify_genres\n",
            "from .tasks import fetch_spotify_genres\nfrom . import signals  # noqa: F401\n")],
          "An album made with the ORM", "accident of import order"),
    Wrong("05", "the receiver is connected twice",
          [("music/signals.py", DEFINE, DECORATED)],
          "An album made with the ORM", "connected twice"),
    Wrong("05", "the receiver enqueues twice: delay() and on_commit",
          [("music/signals.py", ON_COMMIT,
            ON_COMMIT + "\n    send_album_congratulations.delay_on_commit(album_id)")],
          "An album made with the ORM", "connected once, and it enqueued 2 messages"),
    Wrong("05", "the receiver sends the email itself instead of enqueuing the task",
          [("music/signals.py", ON_COMMIT,
            "transaction.on_commit(lambda: send_album_congratulations(album_id))")],
          "An album made with the ORM", "right inside Album.objects.create()"),
    Wrong("05", "the receiver runs the task in place with .apply() after the commit",
          [("music/signals.py", "send_album_congratulations.delay(album_id)",
            "send_album_congratulations.apply(args=(album_id,))")],
          "sends its artist one email", "its .apply()"),
    Wrong("05", "a pre_save receiver: the album has no id yet when on_commit runs at once",
          [("music/signals.py", "def album_saved(sender, instance, created, raw=False, **kwargs):",
            "def album_saved(sender, instance, raw=False, **kwargs):\n"
            "    created = instance._state.adding"),
           ("music/signals.py", "    album_id = instance.pk\n    transaction.on_commit(lambda: "
            "send_album_congratulations.delay(album_id), robust=True)",
            "    transaction.on_commit(lambda: send_album_congratulations.delay(instance.pk))"),
           ("music/apps.py", "from django.db.models.signals import post_save",
            "from django.db.models.signals import pre_save"),
           ("music/apps.py", "post_save.connect(album_saved", "pre_save.connect(album_saved")],
          "sends its artist one email", "the album had no id yet"),
    Wrong("05", "the task emails the wrong address",
          [("music/tasks.py", "recipient_list=[artist.email]",
            'recipient_list=["team@encore.example"]')],
          "An album made with the ORM", "went to ['team@encore.example']"),
    Wrong("05", "the subject does not name the album",
          [("music/tasks.py", "subject=f'Congratulations on \"{album.title}\"'",
            'subject="Congratulations on your new album"')],
          "An album made with the ORM", "a subject that contains"),
    Wrong("05", "the body does not name the artist",
          [("music/tasks.py", 'f"Hello {artist.name},\\n\\n"', '"Hello,\\n\\n"')],
          "An album made with the ORM", "does not name the artist"),
    Wrong("05", "the receiver passes the album itself",
          [("music/signals.py", "    album_id = instance.pk\n", "    album_id = instance\n")],
          "An album made with the ORM", "JSON cannot carry"),
    Wrong("05", "the task raises on the worker",
          [("music/tasks.py", '.get(pk=album_id)', '.get(pk=album_id, title="")')],
          "An album made with the ORM", "raised DoesNotExist"),
    Wrong("05", "send_task with a misspelt task name",
          [("music/signals.py", ON_COMMIT, "transaction.on_commit(lambda: send_album_"
            'congratulations.app.send_task("music.tasks.send_congratulations", '
            "args=[album_id]))")],
          "An album made with the ORM", "Received unregistered task"),
    Wrong("05", "the receiver has no sender=, so it runs for every model",
          [("music/apps.py", "post_save.connect(album_saved, sender=Album, ",
            "post_save.connect(album_saved, ")],
          "An album made with the ORM", "without sender=Album"),
    Wrong("05", "fixtures loaded with loaddata send emails (raw is not checked)",
          [("music/signals.py", GUARD, "    if not created:\n        return\n")],
          "loaded from a fixture", "raw=True"),
    Wrong("05", "Album.save() is overridden to enqueue, with no receiver",
          [("music/apps.py", CONNECT, "        pass\n"),
           ("music/models.py", SAVE, SAVE + "\n    def save(self, *args, **kwargs):\n"
            "        from django.db import transaction\n\n"
            "        from .tasks import send_album_congratulations\n\n"
            "        new = self._state.adding\n        super().save(*args, **kwargs)\n"
            "        if new:\n            album_id = self.pk\n"
            "            transaction.on_commit(lambda: send_album_congratulations.delay(album_id))\n")],
          "not from an overridden save()", "overridden in music/models.py"),
    Wrong("05", "a receiver defined inside ready() and connected weakly (freed in production)",
          [("music/apps.py", CONNECT, LOCAL.format(weak=""))],
          "An album made with the ORM", "weak reference"),
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
    Right("05", "a receiver inside ready() connected with weak=False, sender as a string",
          [("music/apps.py", CONNECT, LOCAL.format(weak=", weak=False").replace(
              "sender=Album", 'sender="music.Album"'))]),
    Right("05", "raw read from kwargs, the id as a keyword, no dispatch_uid",
          [("music/signals.py", DEFINE, "def album_saved(sender, instance, created, **kwargs):"),
           ("music/signals.py", GUARD,
            '    if kwargs.get("raw") or not created:\n        return\n'),
           ("music/signals.py", ON_COMMIT, "transaction.on_commit(lambda: "
            "send_album_congratulations.apply_async(kwargs={'album_id': album_id}))"),
           ("music/apps.py", ', dispatch_uid="music.album_saved")', ")")]),
    Right("05", "music/tasks/ as a package: the task is music.tasks.albums.send_album_congratulations",
          as_package("05-signals-on-commit", "music", "albums")),
    Right("05", "a receiver for every model (no sender=) that keeps albums only by their type",
          [("music/apps.py", "post_save.connect(album_saved, sender=Album, ",
            "post_save.connect(album_saved, "),
           ("music/signals.py", GUARD, GUARD.replace(
               "raw or not created", "raw or not created or type(instance).__name__ != 'Album'"))]),
]

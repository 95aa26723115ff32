from django.apps import AppConfig


class MusicConfig(AppConfig):
    name = "music"

    def ready(self):
        # ready() runs once every model is loaded, in every process that starts Django:
        # runserver, the worker, the shell, manage.py commands. Connecting here means the
        # receiver is always there, whatever gets imported first.
        from django.db.models.signals import post_save

        from .models import Album
        from .signals import album_saved

        post_save.connect(album_saved, sender=Album, dispatch_uid="music.album_saved")
